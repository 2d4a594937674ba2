# fleettickets worker: `deno task ingest` (Coolify scheduled task or docker run).
# Not built on the development machines (no Docker engine there); see README "Docker".
FROM denoland/deno:2.9.6

ENV TZ=Africa/Nairobi \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1
WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when deno.json / deno.lock change.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY . .
RUN deno cache main.ts \
 && mkdir -p /app/.data \
 && chown -R deno:deno /app/.data

USER deno
# One drain of every dataset; Coolify can instead keep the container up and run
# `deno task -q ingest --from-bucket --apply --dataset all` as a scheduled task (without
# --dataset all, INC only). -q: the log holds only the worker's JSON lines, not Deno's
# "Task ingest …" line. The read API, a second resource from this image:
# `deno task serve --host 0.0.0.0` listens on 8080.
CMD ["task", "-q", "ingest", "--from-bucket", "--apply", "--dataset", "all"]

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
# One drain of every dataset, then exit (`docker run --rm`, a cron's `docker run`). -q: the log
# holds only the worker's JSON lines, not Deno's "Task ingest …" line. Refused without
# DATABASE_URL unless PGLITE_DIR is set on purpose: the embedded database would live and die with
# the container while the bucket's files moved to processed/ (a tester's). On Coolify give the
# resource a command that stays up (`sleep infinity`) and run the drain as its Scheduled Task
# (README "Coolify"): this command, restarted by a restart policy, would drain in a loop. The read
# API, a second resource from this image: `deno task serve --host 0.0.0.0` listens on 8080.
CMD ["sh", "-c", "if [ -z \"${DATABASE_URL:-}\" ] && [ -z \"${PGLITE_DIR:-}\" ]; then echo 'Cannot drain in this container: DATABASE_URL is not set, and the embedded database would be lost with the container while the bucket files moved to processed/; set DATABASE_URL, or set PGLITE_DIR=.data/pglite with a volume on /app/.data' >&2; exit 2; fi; exec deno task -q ingest --from-bucket --apply --dataset all"]

// Test helper: an HTTP fault-injection proxy on 127.0.0.1 in front of an S3 endpoint (s3rver).
//
// Raw TCP, one request per client connection (the proxy adds `Connection: close` to what it
// forwards, so the upstream closes after answering and the client does not reuse the socket).
// Bytes are forwarded unchanged otherwise, so SigV4 signatures (which cover the Host header)
// stay valid. Rules pick requests by S3 operation and key and inject:
//
// - `status`: an S3 error answer without asking upstream (500 InternalError, 503
//   ServiceUnavailable, 503 SlowDown, 403 AccessDenied, ...);
// - `reset`: the connection is closed without an answer (Node reports "socket hang up",
//   ECONNRESET);
// - `truncate`: the upstream answer is cut after N body bytes (Content-Length promises more);
// - `stall`: the request is held, before it reaches upstream (`at: "request"`), after upstream
//   did it but before the answer (`at: "response"`), or after N body bytes (`at: "body"`),
//   until released, `releaseAfterMs` passes or the client goes away. A `stalled` event lets a
//   harness SIGKILL the client at exactly that point.
//
// Private to tests/ and bench/.

/** What an S3 request does, from its method, path and query. */
export type S3Op = "list" | "get" | "head" | "copy" | "put" | "delete" | "other";

/** One request seen by the proxy. */
export interface ProxyRequest {
  /** Sequence number (1-based). */
  id: number;
  method: string;
  /** Path and query as sent. */
  target: string;
  /** Object key (path-style: after `/<bucket>/`, URL-decoded); null for bucket-level calls. */
  key: string | null;
  op: S3Op;
}

/** A fault to inject. */
export type FaultAction =
  | { kind: "status"; status: number; code: string; message?: string }
  | { kind: "reset" }
  | { kind: "truncate"; afterBytes: number }
  | {
    kind: "stall";
    at: "request" | "response" | "body";
    /** For `at: "body"`: body bytes forwarded before holding. */
    afterBytes?: number;
    /** Release by itself after this long (default: only `release()` or the client leaving). */
    releaseAfterMs?: number;
  };

/** Picks requests and says what to do with them. */
export interface FaultRule {
  /** Name in events and counts, e.g. `503 SlowDown`. */
  label: string;
  match: (request: ProxyRequest) => boolean;
  action: FaultAction;
  /** How many matching requests to hit (default 1; `Infinity` for all). */
  times?: number;
}

/** Something the proxy did. */
export interface ProxyEvent {
  type: "request" | "fault" | "stalled" | "released" | "done" | "error";
  request: ProxyRequest;
  /** The rule's label, for faults and stalls. */
  label?: string;
  /** Upstream status, for `done`. */
  status?: number;
  detail?: string;
}

/** A running proxy. */
export interface S3FaultProxy {
  /** `http://127.0.0.1:PORT`: give this to the S3 client as its endpoint. */
  endpoint: string;
  /** Every event so far, in order. */
  events: ProxyEvent[];
  /** Faults injected so far, by rule label. */
  injected: Map<string, number>;
  addRule(rule: FaultRule): void;
  clearRules(): void;
  /** Resolves with the first event (past or future) matching `predicate`. */
  waitFor(predicate: (event: ProxyEvent) => boolean, timeoutMs?: number): Promise<ProxyEvent>;
  /** Lets every held request go on. */
  releaseAll(): void;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEAD_END = encoder.encode("\r\n\r\n");

/** Starts a proxy on 127.0.0.1 (a free port) in front of `upstream` (an http:// endpoint). */
export function startS3FaultProxy(upstream: string): S3FaultProxy {
  const up = new URL(upstream);
  const upHost = up.hostname;
  const upPort = Number(up.port || 80);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const rules: { rule: FaultRule; left: number }[] = [];
  const events: ProxyEvent[] = [];
  const injected = new Map<string, number>();
  const waiters: { predicate: (e: ProxyEvent) => boolean; resolve: (e: ProxyEvent) => void }[] = [];
  const releasers = new Set<() => void>();
  const connections = new Set<Deno.Conn>();
  let nextId = 1;
  let closed = false;

  const emit = (event: ProxyEvent) => {
    events.push(event);
    for (const w of [...waiters]) {
      if (w.predicate(event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  };

  const take = (request: ProxyRequest): FaultRule | undefined => {
    for (const entry of rules) {
      if (entry.left > 0 && entry.rule.match(request)) {
        entry.left--;
        injected.set(entry.rule.label, (injected.get(entry.rule.label) ?? 0) + 1);
        return entry.rule;
      }
    }
    return undefined;
  };

  /**
   * Waits for `release()`, the timer or the client closing; false if the client left. Only for a
   * client with nothing more to send: the probe read that notices a client going away would
   * take a byte of a request body.
   */
  const hold = async (
    client: Deno.Conn,
    request: ProxyRequest,
    rule: FaultRule,
    ms?: number,
  ): Promise<boolean> => {
    emit({ type: "stalled", request, label: rule.label });
    let release!: () => void;
    const released = new Promise<"released">((resolve) => release = () => resolve("released"));
    releasers.add(release);
    const timer = ms === undefined ? undefined : setTimeout(release, ms);
    // A held client sends nothing more; a read that ends means it went away (killed).
    const gone = client.read(new Uint8Array(1)).then(() => "gone" as const, () => "gone" as const);
    const outcome = await Promise.race([released, gone]);
    clearTimeout(timer);
    releasers.delete(release);
    if (outcome === "released") emit({ type: "released", request, label: rule.label });
    return outcome === "released";
  };

  const handle = async (client: Deno.Conn) => {
    let upstreamConn: Deno.Conn | undefined;
    let request: ProxyRequest | undefined;
    try {
      const { head, rest } = await readHead(client);
      if (head === undefined) return;
      const text = decoder.decode(head);
      const [requestLine = "", ...headerLines] = text.split("\r\n");
      const [method = "", target = ""] = requestLine.split(" ");
      const headers = headerLines.filter((l) => l !== "");
      request = { id: nextId++, method, target, ...classify(method, target, headers) };
      emit({ type: "request", request });
      const rule = take(request);
      const action = rule?.action;
      if (rule && action) emit({ type: "fault", request, label: rule.label });

      if (action?.kind === "status") {
        const body = errorXml(action.code, action.message ?? action.code, request);
        const payload = method === "HEAD" ? "" : body;
        await writeAll(
          client,
          encoder.encode(
            `HTTP/1.1 ${action.status} ${action.code}\r\nContent-Type: application/xml\r\n` +
              `Content-Length: ${encoder.encode(payload).length}\r\nConnection: close\r\n\r\n` +
              payload,
          ),
        );
        return;
      }
      if (action?.kind === "reset") return;
      // A request body (Content-Length only: the CLI sends none; PUTs go straight upstream).
      const length = Number(
        headers.find((l) => /^content-length\s*:/i.test(l))?.split(":")[1]?.trim() ?? 0,
      );
      let body: Uint8Array = rest;
      if (action?.kind === "stall" && action.at === "request") {
        // Take the whole body first: `hold` must only watch a client with nothing left to send.
        body = await readBytes(client, rest, length);
        if (!(await hold(client, request, rule!, action.releaseAfterMs))) return;
      }

      upstreamConn = await Deno.connect({ hostname: upHost, port: upPort });
      const forwarded = headers.filter((l) => !/^connection\s*:/i.test(l));
      await writeAll(
        upstreamConn,
        encoder.encode(`${requestLine}\r\n${forwarded.join("\r\n")}\r\nConnection: close\r\n\r\n`),
      );
      if (body.length > 0) await writeAll(upstreamConn, body);
      await copyBytes(client, upstreamConn, length - body.length);

      const response = await readHead(upstreamConn);
      if (response.head === undefined) throw new Error("upstream closed without answering");
      const status = Number(decoder.decode(response.head).split(" ")[1]);
      if (action?.kind === "stall" && action.at === "response") {
        if (!(await hold(client, request, rule!, action.releaseAfterMs))) return;
      }
      await writeAll(client, response.head);
      const limit = action?.kind === "truncate"
        ? action.afterBytes
        : action?.kind === "stall" && action.at === "body"
        ? action.afterBytes ?? 0
        : Infinity;
      let sent = 0;
      let chunk: Uint8Array | null = response.rest;
      const buffer = new Uint8Array(16 * 1024);
      let limited = false;
      for (;;) {
        if (chunk === null) break;
        if (!limited && sent + chunk.length > limit) {
          const cut = Math.max(0, limit - sent);
          if (cut > 0) await writeAll(client, chunk.subarray(0, cut));
          sent += cut;
          chunk = chunk.subarray(cut);
          limited = true;
          if (action?.kind === "truncate") return; // the client sees a premature end
          const ms = (action as { releaseAfterMs?: number }).releaseAfterMs;
          if (!(await hold(client, request, rule!, ms))) return;
          continue;
        }
        if (chunk.length > 0) await writeAll(client, chunk);
        sent += chunk.length;
        const n = await upstreamConn.read(buffer);
        chunk = n === null ? null : buffer.slice(0, n);
      }
      emit({ type: "done", request, status });
    } catch (error) {
      if (request) emit({ type: "error", request, detail: String(error) });
    } finally {
      connections.delete(client);
      try {
        client.close();
      } catch { /* already closed */ }
      try {
        upstreamConn?.close();
      } catch { /* already closed */ }
    }
  };

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      if (closed) {
        conn.close();
        return;
      }
      connections.add(conn);
      handle(conn);
    }
  })();

  const address = listener.addr as Deno.NetAddr;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    events,
    injected,
    addRule(rule) {
      rules.push({ rule, left: rule.times ?? 1 });
    },
    clearRules() {
      rules.length = 0;
    },
    waitFor(predicate, timeoutMs = 60_000) {
      const past = events.find(predicate);
      if (past) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          // Only this waiter: findIndex's -1 would make splice drop the last one.
          const index = waiters.findIndex((w) => w.resolve === done);
          if (index >= 0) waiters.splice(index, 1);
          reject(new Error(`Proxy saw no matching event within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (event: ProxyEvent) => {
          clearTimeout(timer);
          resolve(event);
        };
        waiters.push({ predicate, resolve: done });
      });
    },
    releaseAll() {
      for (const release of [...releasers]) release();
    },
    async close() {
      closed = true;
      for (const release of [...releasers]) release();
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const conn of connections) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await accepting;
    },
  };
}

function classify(
  method: string,
  target: string,
  headers: string[],
): { key: string | null; op: S3Op } {
  const [path = "", query = ""] = target.split("?");
  const parts = path.split("/").slice(2); // "", bucket, ...key
  const key = parts.length > 0 && parts.join("/") !== ""
    ? decodeURIComponent(parts.join("/"))
    : null;
  const params = new URLSearchParams(query);
  let op: S3Op = "other";
  if (method === "GET" && key === null && (params.has("list-type") || params.has("prefix"))) {
    op = "list";
  } else if (method === "GET" && key !== null) op = "get";
  else if (method === "HEAD") op = "head";
  else if (method === "PUT" && headers.some((h) => /^x-amz-copy-source\s*:/i.test(h))) op = "copy";
  else if (method === "PUT") op = "put";
  else if (method === "DELETE") op = "delete";
  return { key, op };
}

function errorXml(code: string, message: string, request: ProxyRequest): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}` +
    `</Message><Resource>${request.target.replaceAll("&", "&amp;")}</Resource>` +
    `<RequestId>fault-${request.id}</RequestId></Error>`;
}

/** Reads up to and including the blank line ending an HTTP head; `rest` is what came after. */
async function readHead(conn: Deno.Conn): Promise<{ head?: Uint8Array; rest: Uint8Array }> {
  let data = new Uint8Array(0);
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    const end = indexOf(data, HEAD_END);
    if (end >= 0) return { head: data.slice(0, end + 4), rest: data.slice(end + 4) };
    if (data.length > 64 * 1024) throw new Error("HTTP head too large");
    const n = await conn.read(buffer);
    if (n === null) return { rest: data };
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buffer.subarray(0, n), data.length);
    data = next;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

/** `start` plus what the client sends until `count` bytes in all (or the client stops). */
async function readBytes(conn: Deno.Conn, start: Uint8Array, count: number): Promise<Uint8Array> {
  if (start.length >= count) return start;
  const data = new Uint8Array(count);
  data.set(start);
  for (let done = start.length; done < count;) {
    const n = await conn.read(data.subarray(done));
    if (n === null) throw new Error("client closed mid-body");
    done += n;
  }
  return data;
}

async function copyBytes(from: Deno.Conn, to: Deno.Conn, count: number): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  for (let left = count; left > 0;) {
    const n = await from.read(buffer.subarray(0, Math.min(buffer.length, left)));
    if (n === null) throw new Error("client closed mid-body");
    await writeAll(to, buffer.subarray(0, n));
    left -= n;
  }
}

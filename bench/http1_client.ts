// A lean load-generator client: one keep-alive HTTP/1.1 connection (Deno.connect), one GET at
// a time, the whole response read (Content-Length or chunked body consumed to its last byte) and
// its status and headers returned. `fetch` costs the client process about as much CPU per
// request as `serve` spends answering a 304, and on 2 cores the client, the server and
// PostgreSQL share them: this measures the server, not the client.

const CRLF2 = [13, 10, 13, 10] as const;
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** A response as the client saw it (the body is read and counted, not kept). */
export interface Http1Response {
  status: number;
  /** Lower-case names. */
  headers: Map<string, string>;
  bodyBytes: number;
}

/** One keep-alive connection to `host:port`. */
export class Http1Connection {
  #conn: Deno.TcpConn;
  #host: string;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  private constructor(conn: Deno.TcpConn, host: string) {
    this.#conn = conn;
    this.#host = host;
  }

  /** Opens the connection (TCP_NODELAY, as `fetch` does). */
  static async open(hostname: string, port: number): Promise<Http1Connection> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return new Http1Connection(conn, `${hostname}:${port}`);
  }

  /** Sends `GET path` with `headers` and reads the whole response. */
  async get(path: string, headers: Record<string, string> = {}): Promise<Http1Response> {
    let head = `GET ${path} HTTP/1.1\r\nHost: ${this.#host}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    const request = encoder.encode(head + "\r\n");
    for (let sent = 0; sent < request.length;) {
      sent += await this.#conn.write(request.subarray(sent));
    }
    const headerEnd = await this.#find(CRLF2);
    const lines = latin1.decode(this.#buf.subarray(this.#start, headerEnd)).split("\r\n");
    this.#start = headerEnd + 4;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? "")?.[1]);
    if (!Number.isInteger(status)) throw new Error(`Cannot read the status line "${lines[0]}"`);
    const found = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        found.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    let bodyBytes = 0;
    if (found.get("transfer-encoding")?.includes("chunked")) {
      for (;;) {
        const lineEnd = await this.#find([13, 10]);
        const size = parseInt(latin1.decode(this.#buf.subarray(this.#start, lineEnd)), 16);
        this.#start = lineEnd + 2;
        if (!Number.isInteger(size)) throw new Error("Cannot read a chunk size");
        await this.#skip(size + 2); // the chunk and its CRLF
        bodyBytes += size;
        if (size === 0) break; // no trailers are sent by Deno.serve
      }
    } else if (status !== 304 && status !== 204) {
      bodyBytes = Number(found.get("content-length") ?? "0");
      await this.#skip(bodyBytes);
    }
    return { status, headers: found, bodyBytes };
  }

  /** Closes the connection. */
  close(): void {
    this.#conn.close();
  }

  /** Index where `pattern` starts in the unread bytes, reading more until it is there. */
  async #find(pattern: readonly number[]): Promise<number> {
    let from = this.#start;
    for (;;) {
      for (let i = from; i + pattern.length <= this.#end; i++) {
        let j = 0;
        while (j < pattern.length && this.#buf[i + j] === pattern[j]) j++;
        if (j === pattern.length) return i;
      }
      from = Math.max(this.#start, this.#end - pattern.length + 1);
      const moved = await this.#fill();
      from -= moved;
    }
  }

  /** Consumes `n` bytes (read and dropped). */
  async #skip(n: number): Promise<void> {
    let left = n;
    for (;;) {
      const take = Math.min(left, this.#end - this.#start);
      this.#start += take;
      left -= take;
      if (left === 0) return;
      await this.#fill();
    }
  }

  /** Reads more bytes; returns how far the unread bytes moved towards the start. */
  async #fill(): Promise<number> {
    const moved = this.#start;
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error(`The server at ${this.#host} closed the connection`);
    this.#end += n;
    return moved;
  }
}

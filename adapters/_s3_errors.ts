// The S3 adapter's errors: telling an S3 server's answers from an endpoint that is not one (or
// that never answers), and naming every failure with whether a later run can succeed as is.
// Private to this folder; s3_object_store.ts re-exports the two public classes.

import { ObjectStoreError } from "../core/ports/mod.ts";
import { socketWords } from "./_socket_words.ts";

// Answers no retry can change: wrong keys, missing rights, a bucket that is not there.
const TERMINAL_CODES = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "NoSuchBucket",
  "InvalidBucketName",
  "AccountProblem",
  "PermanentRedirect",
]);

/** The configured bucket does not exist (a typo in `TICKETS_BUCKET`, the wrong endpoint). */
export class BucketNotFoundError extends ObjectStoreError {
  /** Creates the error naming the bucket. */
  constructor(description: string, bucket: string) {
    super(`Cannot read ${description}: the bucket "${bucket}" does not exist (TICKETS_BUCKET)`, {
      status: 404,
      terminal: true,
    });
    this.name = "BucketNotFoundError";
  }
}

/**
 * The S3 server refused the keys or their rights (`InvalidAccessKeyId`, `SignatureDoesNotMatch`,
 * `AccessDenied`), the region or the time the requests are signed with, or this machine refused
 * the server's TLS certificate: a setting to fix, named in the message. Terminal.
 */
export class KeysRefusedError extends ObjectStoreError {
  /** Creates the error; `message` names the setting or the right (never a credential). */
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { status: options.status, terminal: true, cause: options.cause });
    this.name = "KeysRefusedError";
  }
}

/**
 * The endpoint is not an S3 server: it answered with something else (a web page, a JSON error,
 * an error without S3's XML document), it does not speak TLS behind `https://`, or it closed
 * every connection without an answer (a port of another service, such as
 * PostgreSQL's). Terminal: rerunning as is cannot help, the endpoint setting must change.
 */
export class NotS3EndpointError extends ObjectStoreError {
  /** Creates the error; `message` names the endpoint (never a credential). */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, terminal: true });
    this.name = "NotS3EndpointError";
  }
}

/** The store's two timeouts, milliseconds. */
export interface S3Timeouts {
  connectionMs: number;
  requestMs: number;
}

/**
 * What the endpoint has answered since the store was made, and its failures in words. One per
 * store: {@linkcode S3Failures.check} runs inside the SDK's retry loop, {@linkcode
 * S3Failures.describe} on what the SDK finally throws.
 */
export class S3Failures {
  /** How messages name the endpoint: the setting and its value (never a user or password). */
  readonly #endpointName: string;
  readonly #checkEndpoint: string;
  readonly #bucket: string;
  readonly #region: string;
  readonly #timeouts: S3Timeouts;
  /** Whether the endpoint is plain `http://` (a TLS-only port then closes the connection). */
  readonly #plain: boolean;
  // Whether the endpoint has answered anything over HTTP (an error too) since the store was made;
  // until it has, a request that gets no answer is not retried, and the silence is remembered.
  #answered = false;
  #silence: string | undefined;

  constructor(
    endpoint: string | undefined,
    variable: string,
    timeouts: S3Timeouts,
    bucket: string,
    region = "us-east-1",
  ) {
    this.#endpointName = endpoint === undefined
      ? `AWS S3 (${variable} unset)`
      : `${variable} "${withoutCredentials(endpoint)}"`;
    this.#checkEndpoint = endpoint === undefined
      ? `check ${variable} (unset: AWS S3)`
      : `check ${variable} (now "${withoutCredentials(endpoint)}")`;
    this.#timeouts = timeouts;
    this.#plain = endpoint !== undefined && /^http:/i.test(endpoint);
    this.#bucket = bucket;
    this.#region = region;
  }

  /**
   * Sends one attempt and checks its answer. Inside the SDK's retry loop (once per attempt),
   * around the parsing of the answer. What is thrown here as an Error of its own is not retried.
   */
  async check<R extends { output?: unknown; response: unknown }>(
    request: unknown,
    send: () => Promise<R>,
    commandName: string | undefined,
  ): Promise<R> {
    if (this.#silence !== undefined) throw new NoAnswer(this.#silence, true);
    const method = (request as { method?: string }).method;
    let result;
    try {
      result = await send();
    } catch (error) {
      throw this.#failedAttempt(error, method, commandName);
    }
    this.#answered = true;
    // A web server may answer a listing with 200 and a page: the SDK then reads an empty list.
    const output = result.output as { Name?: string; IsTruncated?: boolean };
    if (
      commandName === "ListObjectsV2Command" && output.Name === undefined &&
      output.IsTruncated === undefined
    ) {
      const response = result.response as { statusCode?: number; headers?: Headers };
      throw new NotS3Answer(describeAnswer(response.statusCode ?? 200, response.headers));
    }
    return result;
  }

  /** What a failed attempt throws on: its own error, or one of ours that the SDK does not retry. */
  #failedAttempt(error: unknown, method: string | undefined, commandName: string | undefined) {
    const e = error as SdkError;
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined) {
      this.#answered = true;
      // S3's error answers are XML documents with a Code (which the SDK copies onto the
      // error), whatever the request but a HEAD (which has no body, whoever answers): one
      // without (an empty body, a page) is not S3's.
      if (status < 500 && method !== "HEAD" && typeof e.Code !== "string") {
        const body = (error as { $responseBodyText?: unknown }).$responseBodyText;
        return new NotS3Answer(describeAnswer(status, e.$response?.headers, body));
      }
      return error;
    }
    // A TLS handshake answered in plain HTTP: https:// to an http:// server (or its port).
    if (!this.#answered && /wrong version number/i.test(e.message ?? "")) return new NoTls();
    const silent = this.#silenceOf(error);
    if (silent !== undefined && !this.#answered) {
      this.#silence = `${silent} to ${REQUEST_NAMES[commandName ?? ""] ?? "a request"}`;
      return new NoAnswer(this.#silence, false);
    }
    return error;
  }

  /**
   * The SDK has already retried what it deems transient; names what failed (after `head`) and
   * says whether a later run can succeed as is. `right`: the S3 permission the request needs
   * (`s3:GetObject`), named when the key is refused it.
   */
  describe(head: string, error: unknown, right?: string): ObjectStoreError {
    const ours = this.#describeOurs(head, error);
    if (ours !== undefined) return ours;
    const e = error as SdkError;
    const status = e.$metadata?.httpStatusCode;
    const tries = e.$metadata?.attempts ?? 1;
    // Each attempt got the connection closed without a word, or bytes that are not HTTP: no
    // HTTP server does that to every request, another service's port (PostgreSQL's) does.
    const notHttp = this.#answered || status !== undefined
      ? undefined
      : notHttpAnswer(error, tries, this.#plain);
    if (notHttp !== undefined) {
      return new NotS3EndpointError(`${head}: ${notHttp}; ${this.#checkEndpoint}`, {
        cause: error,
      });
    }
    // After an answer, a request left unanswered has had its retries.
    const silent = this.#silenceOf(error);
    if (silent !== undefined) {
      return new ObjectStoreError(
        `${head}: ${silent}, ${countAttempts(tries)} (is that an S3 server, and is it up?)`,
        { terminal: false, cause: error },
      );
    }
    const untrusted = status === undefined ? untrustedCertificate(error) : undefined;
    if (untrusted !== undefined) {
      return new KeysRefusedError(
        `${head}: the server's TLS certificate is not trusted here (${untrusted}); give this ` +
          `machine the CA that signed it (NODE_EXTRA_CA_CERTS=/path/to/ca.pem in the ` +
          `environment), or check that ${this.#checkEndpoint.replace(/^check /, "")} names the ` +
          `host the certificate is for`,
        { cause: error },
      );
    }
    const network = status === undefined ? networkWords(error) : undefined;
    if (network !== undefined) {
      return new ObjectStoreError(`${head}: ${network}; ${this.#checkEndpoint}`, {
        terminal: false,
        cause: error,
      });
    }
    const code = e.name ?? "Error";
    const terminal = TERMINAL_CODES.has(code) || status === 401 || status === 403;
    const refused = this.#refusal(code, status, right, e.message);
    if (refused !== undefined) {
      return new KeysRefusedError(`${head}: ${refused}`, { status, cause: error });
    }
    return new ObjectStoreError(
      refused === undefined
        ? `${head}: ${code}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(error)}`
        : `${head}: ${refused}`,
      { status, terminal, cause: error },
    );
  }

  /**
   * A refused key pair or right in our words, naming the setting or the right to fix, the S3 code
   * kept in parentheses (S3's own text names neither); undefined for any other code.
   */
  #refusal(code: string, status: number | undefined, right: string | undefined, message = "") {
    const said = `(${code}${status ? `, HTTP ${status}` : ""})`;
    switch (code) {
      case "InvalidAccessKeyId":
        return `the S3 server knows no such access key ${said}; ` +
          `check RUSTFS_ACCESS_KEY (or AWS_ACCESS_KEY_ID)`;
      case "SignatureDoesNotMatch":
        return `the secret key is not the access key's ${said}; ` +
          `check RUSTFS_SECRET_KEY (or AWS_SECRET_ACCESS_KEY)`;
      case "AccessDenied":
        return `the access key may not do that ${said}; give it ${right ?? ALL_RIGHTS} on ` +
          `the bucket "${this.#bucket}" (prefix automations/)`;
      // Both refuse the request's signature, which holds the region and the time (before: any
      // other 4xx, retried by every run as transient; a tester's).
      case "AuthorizationHeaderMalformed": {
        const expected = /expecting '([^']+)'/.exec(message)?.[1];
        return `the S3 server is not in the region "${this.#region}" the requests are signed ` +
          `for ${said}; set RUSTFS_REGION (or AWS_REGION) to ` +
          (expected === undefined ? "the server's region" : `"${expected}"`);
      }
      case "RequestTimeTooSkewed":
        return `this machine's clock and the S3 server's differ by more than 15 minutes ` +
          `${said}; set this machine's clock (NTP)`;
      default:
        return undefined;
    }
  }

  /** The failures {@linkcode S3Failures.check} threw inside the retry loop, in words. */
  #describeOurs(head: string, error: unknown): ObjectStoreError | undefined {
    if (error instanceof NotS3Answer) {
      return new NotS3EndpointError(
        `${head}: the answer is not S3's (${error.answer}); ${this.#checkEndpoint}`,
        { cause: error },
      );
    }
    if (error instanceof NoTls) {
      return new NotS3EndpointError(
        `${head}: the endpoint does not speak TLS (write "http://", or check the port); ` +
          this.#checkEndpoint,
        { cause: error },
      );
    }
    if (error instanceof NoAnswer) {
      return new ObjectStoreError(
        `${head}: ${error.earlier ? "not sent, " : ""}${this.#endpointName} gave ${error.silence}` +
          `${error.earlier ? " earlier in this run" : ""} (is that an S3 server, and is it up?)`,
        { terminal: false, cause: error },
      );
    }
    return undefined;
  }

  // The SDK's own text for its two timeouts names its handler, not what to check; other socket
  // errors it also calls TimeoutError keep their text.
  #silenceOf(error: unknown): string | undefined {
    const message = (error as { message?: string }).message ?? "";
    return /requestTimeout/.test(message)
      ? `no answer for ${this.#timeouts.requestMs / 1000} s`
      : /without establishing a connection/.test(message)
      ? `no connection within ${this.#timeouts.connectionMs / 1000} s`
      : undefined;
  }
}

/** Every right the worker uses: it lists, reads, and archives (a copy, then a delete). */
const ALL_RIGHTS = "s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject";

/** What the SDK's errors carry (an S3 error also has the document's `Code`). */
interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  Code?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { headers?: Headers };
}

type Headers = Record<string, string | undefined>;

/** An answer that is not S3's, thrown inside the SDK's retry loop (which does not retry it). */
class NotS3Answer extends Error {
  constructor(readonly answer: string) {
    super(`The answer is not S3's (${answer})`);
    this.name = "NotS3Answer";
  }
}

/** A TLS handshake that got plain HTTP back, thrown inside the SDK's retry loop. */
class NoTls extends Error {
  constructor() {
    super("The endpoint does not speak TLS");
    this.name = "NoTls";
  }
}

/** How a silence names the request that got it. */
const REQUEST_NAMES: Record<string, string> = {
  HeadBucketCommand: "the bucket check",
  ListObjectsV2Command: "a listing",
  GetObjectCommand: "a download",
  CopyObjectCommand: "a copy",
  DeleteObjectCommand: "a delete",
};

/**
 * No answer from an endpoint that never answered, thrown inside the SDK's retry loop (which does
 * not retry it: no cause, no code it knows).
 */
export class NoAnswer extends Error {
  constructor(readonly silence: string, readonly earlier: boolean) {
    super(`The endpoint gave ${silence}`);
    this.name = "NoAnswer";
  }
}

function header(headers: Headers | undefined, name: string): string | undefined {
  const found = Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return found?.[1];
}

/** `an HTML page, status 404`, from the answer's status, content type and body (if read). */
function describeAnswer(status: number, headers: Headers | undefined, body?: unknown): string {
  const type = header(headers, "content-type");
  const empty = header(headers, "content-length") === "0" || body === "";
  const kind = type === undefined && empty
    ? "an empty answer"
    : type === undefined
    ? "no content type"
    : /html/i.test(type)
    ? "an HTML page"
    : /json/i.test(type)
    ? "a JSON document"
    : /^text\/plain/i.test(type)
    ? "plain text"
    : `content type "${type.split(";")[0]}"`;
  return `${kind}, status ${status}`;
}

/**
 * What a connection that ended without an HTTP answer got, if that is what happened. Closed
 * without a byte: another service's port (PostgreSQL's), a TLS-only port asked in plain HTTP,
 * or an S3 server restarting (before, "not an HTTP server" alone: a tester's restarting server).
 */
function notHttpAnswer(error: unknown, tries: number, plain: boolean): string | undefined {
  const { code, message } = error as { code?: unknown; message?: string };
  if (typeof code === "string" && code.startsWith("HPE_")) {
    return "the answer is not HTTP (another service's port?)";
  }
  const tls = plain ? `, a port that speaks only TLS (then write "https://")` : "";
  return code === "ECONNRESET" || code === "EPIPE" || /socket hang up/.test(message ?? "")
    ? `the endpoint closed the connection without an answer, ${
      countAttempts(tries)
    } (not an HTTP server: another service's port${tls}, or an S3 server restarting, then ` +
      `try again once it is up)`
    : undefined;
}

function countAttempts(n: number): string {
  return `${n} attempt${n === 1 ? "" : "s"}`;
}

/** The endpoint as configured, without a user or password it may carry. */
function withoutCredentials(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
}

/** Node's codes for a TLS certificate this machine does not trust or that names another host. */
const CERTIFICATE_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** The TLS handshake's refusal of the server's certificate, in its own words; else undefined. */
function untrustedCertificate(error: unknown): string | undefined {
  const { code, message = "" } = error as { code?: unknown; message?: string };
  if (typeof code === "string" && CERTIFICATE_CODES.has(code)) return message || code;
  return CERTIFICATE_WORDS.some((words) => words.test(message)) ? message : undefined;
}

/** The same refusals in words, where no code came with them. */
const CERTIFICATE_WORDS = [
  /self[- ]signed certificate/i,
  /certificate's altnames/i,
  /invalid peer certificate/i,
  /unable to verify the first certificate/i,
  /certificate has expired/i,
];

/** A connection that failed before any HTTP, in the words the database's failures use. */
function networkWords(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (code === "ECONNRESET") return "the connection was reset (ECONNRESET)";
  return socketWords(code, "the S3 server");
}

/**
 * Configuration from the environment (see `.env.example` and the README's table).
 *
 * @module
 */

/** Everything the worker reads from its environment. */
export interface Config {
  /** PostgreSQL URL; unset means the embedded PGlite database. */
  databaseUrl?: string;
  /** Data directory of the embedded database. */
  pgliteDir: string;
  /** S3 connection (credentials may be missing until a bucket command needs them). */
  s3: {
    endpoint?: string;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    bucket: string;
  };
}

/** The variable names the worker reads (the permission set allows exactly these). */
export const ENV_NAMES = [
  "DATABASE_URL",
  "PGLITE_DIR",
  "RUSTFS_ENDPOINT",
  "RUSTFS_ACCESS_KEY",
  "RUSTFS_SECRET_KEY",
  "RUSTFS_REGION",
  "TICKETS_BUCKET",
  "AWS_ENDPOINT_URL_S3",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_REGION",
] as const;

/** Raised for a missing or malformed setting; the message names the variable. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Reads the configuration; `RUSTFS_*` win over the standard `AWS_*` names. */
export function loadConfig(env: (name: string) => string | undefined): Config {
  const get = (name: string) => {
    const value = env(name)?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const endpoint = get("RUSTFS_ENDPOINT") ?? get("AWS_ENDPOINT_URL_S3");
  if (endpoint !== undefined && !URL.canParse(endpoint)) {
    throw new ConfigError(
      `Cannot read the S3 endpoint: ${
        get("RUSTFS_ENDPOINT") ? "RUSTFS_ENDPOINT" : "AWS_ENDPOINT_URL_S3"
      } is not a URL`,
    );
  }
  const databaseUrl = get("DATABASE_URL");
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      `Cannot read DATABASE_URL: expected "postgres://user:password@host:port/db"`,
    );
  }
  return {
    databaseUrl,
    pgliteDir: get("PGLITE_DIR") ?? ".data/pglite",
    s3: {
      endpoint,
      region: get("RUSTFS_REGION") ?? get("AWS_REGION") ?? "us-east-1",
      accessKeyId: get("RUSTFS_ACCESS_KEY") ?? get("AWS_ACCESS_KEY_ID"),
      secretAccessKey: get("RUSTFS_SECRET_KEY") ?? get("AWS_SECRET_ACCESS_KEY"),
      bucket: get("TICKETS_BUCKET") ?? "isptickets",
    },
  };
}

/** The secret values of a configuration, for redaction. */
export function configSecrets(config: Config): string[] {
  const secrets = [config.s3.secretAccessKey];
  if (config.databaseUrl !== undefined) {
    const password = URL.canParse(config.databaseUrl)
      ? decodeURIComponent(new URL(config.databaseUrl).password)
      : undefined;
    secrets.push(password);
  }
  return secrets.filter((s): s is string => s !== undefined && s !== "");
}

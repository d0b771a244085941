/**
 * The Binance API key pair of the commands that sign requests (`run --mode testnet|live`, `brackets refresh`)
 * and of the double (`exchange-sim`), from the environment — never from a file in the repository, never logged
 * or stored (binance-usdm.md §5.1, §5.2):
 * - `BINANCE_API_KEY`: the API key (always);
 * - the signing key, one of: `BINANCE_API_SECRET` (an HMAC secret, or an Ed25519 PEM with `\n` escapes), or
 *   `BINANCE_PRIVATE_KEY_FILE` (the path of an Ed25519 private key PEM, as `openssl genpkey -algorithm ed25519`
 *   writes it; the double also takes the public key PEM, the key registered with Binance).
 * The `binance` SDK signs with Ed25519 when the secret is a PEM private key, with HMAC-SHA256 otherwise.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../config/load.ts";

export const API_KEY_ENV = "BINANCE_API_KEY";
export const API_SECRET_ENV = "BINANCE_API_SECRET";
export const PRIVATE_KEY_FILE_ENV = "BINANCE_PRIVATE_KEY_FILE";

/** A key pair and where its signing key came from (for messages; never the key itself). */
export interface ApiKeyPair {
  apiKey: string;
  /** The HMAC secret or the Ed25519 PEM, as the SDK takes it as `api_secret`. */
  apiSecret: string;
  /** `BINANCE_API_SECRET (from env)`, or `BINANCE_PRIVATE_KEY_FILE (from env): PATH`. */
  source: string;
}

/**
 * A missing, ambiguous or unreadable key pair (a configuration error: exit 2): its one problem names the
 * variable, its source and the file, never the key.
 */
export class ApiKeyError extends ConfigError {
  override name = "ApiKeyError";
  constructor(problem: string) {
    super([problem]);
  }
}

/**
 * Reads the key pair from `env`. `double`: the reader is the double, whose key file may also be the public key.
 * Returns undefined when none of the three variables is set.
 * @throws ApiKeyError when only part of the pair is set, both signing keys are set, or the key file cannot be
 *   read or is not an Ed25519 key PEM.
 */
export function readApiKeyPair(env: NodeJS.ProcessEnv = process.env, double = false): ApiKeyPair | undefined {
  const apiKey = env[API_KEY_ENV] ?? "";
  const secret = env[API_SECRET_ENV] ?? "";
  const file = env[PRIVATE_KEY_FILE_ENV] ?? "";
  if (apiKey === "" && secret === "" && file === "") return undefined;
  if (secret !== "" && file !== "")
    throw new ApiKeyError(
      `${API_SECRET_ENV} and ${PRIVATE_KEY_FILE_ENV} (from env): both set; set one signing key`,
    );
  if (apiKey === "")
    throw new ApiKeyError(
      `${API_KEY_ENV} (from env): not set (${secret !== "" ? API_SECRET_ENV : PRIVATE_KEY_FILE_ENV} is)`,
    );
  if (secret !== "") return { apiKey, apiSecret: secret, source: `${API_SECRET_ENV} (from env)` };
  if (file === "")
    throw new ApiKeyError(
      `${API_SECRET_ENV} or ${PRIVATE_KEY_FILE_ENV} (from env): not set (${API_KEY_ENV} is): set the signing key`,
    );
  const source = `${PRIVATE_KEY_FILE_ENV} (from env): ${file}`;
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (error) {
    throw new ApiKeyError(
      `${source}: cannot read the file: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  checkEd25519Pem(pem, source, double);
  return { apiKey, apiSecret: pem, source };
}

/**
 * Reads the key pair a signing command needs.
 * @throws ApiKeyError as `readApiKeyPair`, and when nothing is set (`purpose` says what needs the pair).
 */
export function requireApiKeyPair(purpose: string, env: NodeJS.ProcessEnv = process.env): ApiKeyPair {
  const pair = readApiKeyPair(env);
  if (pair === undefined)
    throw new ApiKeyError(
      `${API_KEY_ENV} (from env): not set: ${purpose} needs an API key pair (${API_KEY_ENV} with ` +
        `${API_SECRET_ENV} or ${PRIVATE_KEY_FILE_ENV})`,
    );
  return pair;
}

/** @throws ApiKeyError when `pem` is not an Ed25519 private key (or, for the double, public key). */
function checkEd25519Pem(pem: string, source: string, double: boolean): void {
  const isPublic = pem.includes("PUBLIC KEY");
  if (isPublic && !double)
    throw new ApiKeyError(
      `${source}: holds a public key; the client signs with the private key (the public one is registered with Binance)`,
    );
  let type: string | undefined;
  try {
    type = (isPublic ? createPublicKey(pem) : createPrivateKey(pem)).asymmetricKeyType;
  } catch (error) {
    throw new ApiKeyError(`${source}: not a PEM key: ${(error as Error).message}`);
  }
  if (type !== "ed25519")
    throw new ApiKeyError(`${source}: a ${type} key; Binance API keys in a file must be Ed25519`);
}

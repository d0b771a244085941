/**
 * The key pair of the environment (src/cli/api-keys.ts): BINANCE_API_KEY with BINANCE_API_SECRET or an Ed25519 key
 * file; every error names the variable and the file, never the key. The SDK signs with what it returns (Ed25519
 * for a PEM private key): checked against the double's verifier of the same key pair.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApiKeyError, readApiKeyPair, requireApiKeyPair } from "../src/cli/api-keys.ts";
import { ConfigError } from "../src/config/load.ts";
import { credentialsFromSecret } from "../src/exchange-sim/auth.ts";

const dir = mkdtempSync(join(tmpdir(), "perpsource-api-keys-"));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const ed = generateKeyPairSync("ed25519");
const privatePem = ed.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const privateFile = write("ed25519.pem", privatePem);
const publicFile = write("ed25519.pub.pem", ed.publicKey.export({ type: "spki", format: "pem" }).toString());
const rsaFile = write(
  "rsa.pem",
  generateKeyPairSync("rsa", { modulusLength: 1024 })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString(),
);

/** The error `f` throws: an ApiKeyError (a ConfigError, exit 2) whose message never holds the key. */
function failure(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiKeyError);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain(privatePem.split("\n")[1]);
    return message;
  }
  throw new Error("expected an ApiKeyError");
}

describe("readApiKeyPair", () => {
  it("nothing set: undefined; requireApiKeyPair says what needs a pair and which variables give one", () => {
    expect(readApiKeyPair({})).toBeUndefined();
    expect(failure(() => requireApiKeyPair("--mode testnet", {}))).toBe(
      "invalid config: BINANCE_API_KEY (from env): not set: --mode testnet needs an API key pair " +
        "(BINANCE_API_KEY with BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE)",
    );
  });

  it("an HMAC secret, as given", () => {
    expect(readApiKeyPair({ BINANCE_API_KEY: "k", BINANCE_API_SECRET: "s" })).toEqual({
      apiKey: "k",
      apiSecret: "s",
      source: "BINANCE_API_SECRET (from env)",
    });
  });

  it("an Ed25519 private key file: its PEM is the secret, and its signatures verify with the double's check", () => {
    const pair = readApiKeyPair({ BINANCE_API_KEY: "k", BINANCE_PRIVATE_KEY_FILE: privateFile })!;
    expect(pair).toEqual({
      apiKey: "k",
      apiSecret: privatePem,
      source: `BINANCE_PRIVATE_KEY_FILE (from env): ${privateFile}`,
    });
    const payload = "symbol=BTCUSDT&timestamp=1746403200000";
    const signature = encodeURIComponent(sign(null, Buffer.from(payload), pair.apiSecret).toString("base64"));
    const double = readApiKeyPair({ BINANCE_API_KEY: "k", BINANCE_PRIVATE_KEY_FILE: publicFile }, true)!;
    const credentials = credentialsFromSecret(double.apiKey, double.apiSecret);
    expect(credentials.scheme).toBe("Ed25519");
    expect(credentials.verify(payload, signature)).toBe(true);
    expect(credentials.verify(`${payload}0`, signature)).toBe(false);
  });

  it("refuses a partial pair, two signing keys, and unusable files, naming the variable and the file", () => {
    expect(failure(() => readApiKeyPair({ BINANCE_API_SECRET: "s" }))).toBe(
      "invalid config: BINANCE_API_KEY (from env): not set (BINANCE_API_SECRET is)",
    );
    expect(failure(() => readApiKeyPair({ BINANCE_PRIVATE_KEY_FILE: privateFile }))).toBe(
      "invalid config: BINANCE_API_KEY (from env): not set (BINANCE_PRIVATE_KEY_FILE is)",
    );
    expect(failure(() => readApiKeyPair({ BINANCE_API_KEY: "k" }))).toBe(
      "invalid config: BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE (from env): not set (BINANCE_API_KEY is): " +
        "set the signing key",
    );
    expect(
      failure(() =>
        readApiKeyPair({
          BINANCE_API_KEY: "k",
          BINANCE_API_SECRET: "s",
          BINANCE_PRIVATE_KEY_FILE: privateFile,
        }),
      ),
    ).toBe(
      "invalid config: BINANCE_API_SECRET and BINANCE_PRIVATE_KEY_FILE (from env): both set; set one signing key",
    );
    const missing = join(dir, "missing.pem");
    expect(failure(() => readApiKeyPair({ BINANCE_API_KEY: "k", BINANCE_PRIVATE_KEY_FILE: missing }))).toBe(
      `invalid config: BINANCE_PRIVATE_KEY_FILE (from env): ${missing}: cannot read the file: ENOENT`,
    );
    const garbage = write("garbage.pem", "not a key\n");
    expect(
      failure(() => readApiKeyPair({ BINANCE_API_KEY: "k", BINANCE_PRIVATE_KEY_FILE: garbage })),
    ).toMatch(
      new RegExp(`^invalid config: BINANCE_PRIVATE_KEY_FILE \\(from env\\): ${garbage}: not a PEM key: `),
    );
    expect(failure(() => readApiKeyPair({ BINANCE_API_KEY: "k", BINANCE_PRIVATE_KEY_FILE: rsaFile }))).toBe(
      `invalid config: BINANCE_PRIVATE_KEY_FILE (from env): ${rsaFile}: a rsa key; Binance API keys in a file must be Ed25519`,
    );
    expect(
      failure(() => readApiKeyPair({ BINANCE_API_KEY: "k", BINANCE_PRIVATE_KEY_FILE: publicFile })),
    ).toMatch(/holds a public key; the client signs with the private key/);
  });
});

/** The Telegram sink: each alert as a plain-text message of a bot (grammY's `Api`, Bot API `sendMessage`). */
import { Api } from "grammy";
import { type Alert, alertText } from "../../alerts/rules.ts";
import type { AlertSink } from "./dispatcher.ts";

/** The Bot API's limit on a message's text, in characters (UTF-16 code units as grammY counts them, at most). */
const MAX_MESSAGE = 4096;

/** Options of `telegramSink`. */
export interface TelegramSinkOptions {
  /** The bot's token ($PERPSOURCE_TELEGRAM_TOKEN), e.g. `123456:ABC-DEF…`. */
  token: string;
  /** The chat: a numeric id or `@channel`. */
  chatId: number | string;
  /** Bot API server (default https://api.telegram.org; a local server in tests). */
  apiRoot?: string;
}

/**
 * A sink sending `alertText(alert)` (cut to 4 096 characters, ending in "…") to `options.chatId` without link
 * previews; an error answer of the Bot API rejects with grammY's `GrammyError` (its `error_code` and
 * `description`), a network failure with `HttpError`.
 */
export function telegramSink(options: TelegramSinkOptions): AlertSink {
  const api = new Api(options.token, options.apiRoot === undefined ? {} : { apiRoot: options.apiRoot });
  return {
    name: "telegram",
    async send(alert: Alert, signal: AbortSignal): Promise<void> {
      await api.sendMessage(
        options.chatId,
        truncate(alertText(alert), MAX_MESSAGE),
        { link_preview_options: { is_disabled: true } },
        // grammY types its signal as abort-controller's polyfill; Node's AbortSignal is what it uses at run time.
        signal as Parameters<Api["sendMessage"]>[3],
      );
    },
  };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Types shared by the nbchat front end.
 *
 * The traits mirror `ChatPanel` in `nbchat/widget.py`; the custom-message vocabulary mirrors
 * the Python vocabulary (`nbchat/panel/vocabulary.py`) exactly (renaming either side must break `npm run typecheck` or the
 * vocabulary test in `__tests__/protocol.test.js`). The kernel owns every trait: the front
 * end never calls `model.set`, it only sends intents.
 */
import type { AnyModel } from "@anywidget/types";

export type MessageStatus = "complete" | "stopped" | "interrupted" | "error";
export type PanelStatus = "idle" | "streaming" | "error";
export type Role = "user" | "assistant" | "system";

export interface Usage {
  prompt: number | null;
  completion: number | null;
  total: number | null;
  /** Prompt tokens served from the cache (present when the server reported them). */
  cached?: number | null;
}

export interface ToolRequest {
  name: string;
  arguments: unknown;
  id?: string | null;
  [key: string]: unknown;
}

/** One message of the conversation (`ChatMessage` in `_messages.py`). */
export interface ChatMessage {
  id: string;
  role: Role;
  content: string;
  status: MessageStatus;
  model: string | null;
  api: string | null;
  params: Record<string, unknown>;
  usage: Usage | null;
  ttft: number | null;
  latency: number | null;
  tokens_per_second: number | null;
  finish_reason: string | null;
  error: string | null;
  created_at: string;
  request_id: string | null;
  tool_request: ToolRequest | null;
  /** The message this one follows (null: the first). */
  parent_id: string | null;
  /** Ids of this message and its other versions (edits, retries), oldest first; null if alone. */
  branches: string[] | null;
  /** USD, null when unknown (no price, or no usage): shown as "—", never $0. */
  cost: number | null;
  /** Size of the JSON request body sent (the whole re-sent history). */
  request_bytes: number | null;
  /** Where the price came from, and as of when (the usage view's tooltip). */
  price_source: string | null;
  /** Every tool call of the reply, in order (`tool_request` is the first); null when none. */
  tool_calls: ToolRequest[] | null;
}

/** The `streaming` trait: the reply in progress, or `{}` when idle. */
export interface Streaming {
  id?: string;
  request_id?: string;
  model?: string;
  created_at?: string;
}

/** Generation parameters: `PARAMS` in nbchat/records.py (tests/test_records.py checks it). */
export interface Params {
  temperature: number | null;
  max_tokens: number | null;
  stop: string[] | null;
  top_p: number | null;
  top_k: number | null;
}

/**
 * Synced traits of `ChatPanel` (nbchat/panel/widget.py). The conversation is paged: the messages of
 * `pages` (oldest first), then `recent`. Read it through `Conversation` (conversation.js).
 */
export interface ChatTraits {
  /** The newest messages, at most `PAGE_SIZE` (nbchat/_pages.py) of them. */
  recent: ChatMessage[];
  /**
   * Older messages: widget references (`"IPY_MODEL_<model_id>"`) to immutable page models
   * (`PageModel`), oldest first. Only appended to, or replaced as a whole.
   */
  pages: string[];
  status: PanelStatus;
  streaming: Streaming;
  model: string;
  /** The server's models, offered by the settings' model field (`models` in widget.py). */
  models: string[];
  system: string;
  params: Params;
  backend: string;
  error: string;
  /** USD `limit`, `spent`, `remaining` of the client's budget, or `{}` without one. */
  budget: { limit?: number; spent?: number; remaining?: number };
}

/** The anywidget model of `ChatPanel` (nbchat/panel/widget.py). */
export type Model = AnyModel<ChatTraits>;

/**
 * Synced traits of a page, `MessagePage` in nbchat/_pages.py: a plain ipywidgets `Widget`
 * (`WidgetModel` of `@jupyter-widgets/base`, no view). Never changes after it is created.
 */
export interface PageTraits {
  messages: ChatMessage[];
}

/** A page model, as `model.widget_manager.get_model` resolves it. */
export type PageModel = AnyModel<PageTraits>;

// ---- front end -> kernel -------------------------------------------------------------

export interface SendIntent { type: "send"; id: string; text: string }
export interface StopIntent { type: "stop"; id: string }
export interface RetryIntent { type: "retry"; id: string }
export interface ClearIntent { type: "clear"; id: string }
/** Put back the messages the last `clear` removed (while the conversation is still empty). */
export interface UndoClearIntent { type: "undo-clear"; id: string }
export interface SnapshotRequest { type: "snapshot-request"; id: string }
/** Ask for reply `message_id`'s raw record (its Raw view opened): answered with `raw`. */
export interface RawRequest { type: "raw-request"; id: string; message_id: string }
/** Send `text` as a new version of user message `message_id` (a new branch). */
export interface EditIntent { type: "edit"; id: string; message_id: string; text: string }
/** Show the branch through `message_id` (one of a message's `branches`). */
export interface SwitchBranchIntent { type: "switch-branch"; id: string; message_id: string }
export interface SettingsIntent {
  type: "settings";
  id: string;
  model?: string;
  system?: string;
  temperature?: number | null;
  max_tokens?: number | null;
}

export type Intent =
  | SendIntent
  | StopIntent
  | RetryIntent
  | ClearIntent
  | UndoClearIntent
  | SnapshotRequest
  | SettingsIntent
  | EditIntent
  | SwitchBranchIntent
  | RawRequest;

export type IntentType = Intent["type"];

/** An intent before `sendIntent` stamps it with a fresh `id`. */
export type IntentBody<T extends IntentType> = Omit<Extract<Intent, { type: T }>, "type" | "id">;

// ---- kernel -> front end -------------------------------------------------------------

export interface DeltaMessage { type: "delta"; request_id: string; seq: number; text: string }
export interface SnapshotMessage {
  type: "snapshot";
  id: string | null;
  request_id: string | null;
  seq: number;
  content: string;
}
export interface AckMessage { type: "ack"; id: string }
export interface ErrorMessage { type: "error"; id: string | null; message: string }

/** One attempt of a request, as `nbchat.raw.Attempt.to_dict()` (credentials as `***`). */
export interface RawAttempt {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  status: number | null;
  response_headers: Record<string, string>;
  sent: number;
  error: string | null;
}
/** The answer to `raw-request` (`nbchat.raw.Raw.to_dict()`): kernel-only data, sent on demand. */
export interface RawMessage {
  type: "raw";
  id: string | null;
  message_id: string;
  attempts: RawAttempt[];
  events: { t: number; event: string; data: string }[];
  event_count: number;
  omitted: number;
  bytes: number;
  curl: string;
}

export type KernelMessage = DeltaMessage | SnapshotMessage | AckMessage | ErrorMessage | RawMessage;
export type KernelMessageType = KernelMessage["type"];

// ---- front-end state -----------------------------------------------------------------

/** The text of the reply in progress, rebuilt from `delta` messages. */
export interface Draft {
  request_id: string;
  /** Last applied sequence number (0 = nothing applied yet). */
  seq: number;
  text: string;
  /** False until a delta run starting at seq 1 or a snapshot has been applied. */
  known: boolean;
}

/** What `ChatState` tells its views. */
export type StateEvent =
  | { kind: "draft" }
  | { kind: "notice"; message: string }
  /** The kernel answered (`connected`) or left an intent unanswered; `intent` is that intent. */
  | { kind: "connection"; connected: boolean; intent: Intent | null };

/**
 * Types of the comparison widget (`Compare` in `nbchat/panel/compare.py`). The message
 * vocabulary mirrors `nbchat/panel/compare_vocabulary.py` (checked by
 * `__tests__/compare-protocol.test.js`). The kernel owns every trait; the front end sends
 * intents. Columns are addressed by slot: the position a column is shown at.
 */
import type { AnyModel } from "@anywidget/types";
import type { ChatMessage } from "./types";

export type CompareStatus = "idle" | "streaming";

/** One shown column (`Slot`): label (a letter in blind mode), and, unless hidden, its name. */
export interface Slot {
  label: string;
  name: string;
  model: string;
  params: Record<string, unknown>;
  hidden: boolean;
}

export interface Vote {
  kind: "best" | "tie" | "bad";
  /** the best slot for "best", else -1 */
  slot: number;
}

/** One prompt and each slot's reply (null while it streams); `id` is `prompt_id`. */
export interface RoundState {
  id: string;
  prompt_id: string;
  prompt: string;
  created_at: string;
  replies: (ChatMessage | null)[];
  vote: Vote | null;
}

/** `streaming[slot]`: the reply in progress in that slot, or `{}`. */
export interface StreamingSlot {
  id?: string;
  request_id?: string;
}

/** Synced traits of `Compare` (nbchat/panel/compare.py). */
export interface CompareTraits {
  slots: Slot[];
  /**
   * Older prompts: references (`"IPY_MODEL_<id>"`) to immutable page models whose `messages`
   * are rounds (`MessagePage` in nbchat/panel/pages.py), oldest first; then `recent`.
   */
  pages: string[];
  recent: RoundState[];
  streaming: StreamingSlot[];
  status: CompareStatus;
  blind: boolean;
  system: string;
  backend: string;
}

export type CompareModel = AnyModel<CompareTraits>;

// ---- front end -> kernel -------------------------------------------------------------

export interface SendIntent { type: "send"; id: string; text: string }
export interface StopIntent { type: "stop"; id: string }
export interface RetryIntent { type: "retry"; id: string; slot: number }
export interface VoteIntent { type: "vote"; id: string; kind: "best" | "tie" | "bad"; slot: number }
export interface SnapshotRequest { type: "snapshot-request"; id: string }

export type CompareIntent = SendIntent | StopIntent | RetryIntent | VoteIntent | SnapshotRequest;
export type CompareIntentType = CompareIntent["type"];
export type CompareIntentBody<T extends CompareIntentType> = Omit<
  Extract<CompareIntent, { type: T }>,
  "type" | "id"
>;

// ---- kernel -> front end -------------------------------------------------------------

export interface DeltaItem { slot: number; request_id: string; seq: number; text: string }
export interface DeltasMessage { type: "deltas"; items: DeltaItem[] }
export interface SnapshotItem { slot: number; request_id: string; seq: number; content: string }
export interface SnapshotMessage { type: "snapshot"; id: string | null; items: SnapshotItem[] }
export interface AckMessage { type: "ack"; id: string }
export interface ErrorMessage { type: "error"; id: string | null; message: string }

export type CompareKernelMessage = DeltasMessage | SnapshotMessage | AckMessage | ErrorMessage;
export type CompareKernelMessageType = CompareKernelMessage["type"];

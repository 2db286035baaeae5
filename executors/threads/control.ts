/**
 * Shared memory between the pool and its threads, one slot per batch in
 * flight: which thread runs it, which task of it is running, the process
 * group of a running shell command, a started flag (for walltime timers),
 * and a cancel flag per task. The pool reads it to stop one task without
 * asking a thread that may be stuck in a loop.
 * @module
 */

/** Most tasks in one batch. */
export const MAX_BATCH = 256;

const FIELDS = 4;
/** Field offsets within a slot. */
export const THREAD = 0;
export const INDEX = 1;
export const PID = 2;
export const STARTED = 3;

/** Views over the shared buffer. */
export interface Control {
  readonly sab: SharedArrayBuffer;
  /** `FIELDS` int32 per slot. */
  readonly ctl: Int32Array;
  /** `MAX_BATCH` flags per slot: 1 = do not run. */
  readonly cancelled: Uint8Array;
}

/** Allocates control memory for `slots` batches. */
export function createControl(slots: number): Control {
  return viewControl(new SharedArrayBuffer(slots * FIELDS * 4 + slots * MAX_BATCH), slots);
}

/** Views an existing buffer (in a worker). */
export function viewControl(sab: SharedArrayBuffer, slots: number): Control {
  return {
    sab,
    ctl: new Int32Array(sab, 0, slots * FIELDS),
    cancelled: new Uint8Array(sab, slots * FIELDS * 4, slots * MAX_BATCH),
  };
}

/** Index of field `f` of `slot`. */
export function at(slot: number, f: number): number {
  return slot * FIELDS + f;
}

/** Clears a slot before a batch uses it. */
export function resetSlot(c: Control, slot: number): void {
  c.ctl[at(slot, THREAD)] = 0;
  c.ctl[at(slot, INDEX)] = -1;
  c.ctl[at(slot, PID)] = 0;
  c.ctl[at(slot, STARTED)] = 0;
  c.cancelled.fill(0, slot * MAX_BATCH, (slot + 1) * MAX_BATCH);
}

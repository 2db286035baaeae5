/**
 * One entry to the transfer protocols: a download or an upload by the URL's
 * scheme (`http`, `https` or `ftp`).
 * @module
 */
import { StagingError } from "../errors.js";
import type { DownloadResult, UploadResult } from "./common.js";
import * as ftp from "./ftp.js";
import * as http from "./http.js";

/** What {@link fetchUrl} takes. */
export interface FetchOptions {
  checksum?: string;
  syncWrites?: boolean;
  /** Revalidate a copy we have: the server may answer "not modified". */
  ifNoneMatch?: string;
  ifModifiedSince?: Date;
}

function protocolOf(url: string): typeof http | typeof ftp {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") return http;
  if (scheme === "ftp") return ftp;
  throw new StagingError(`cannot transfer ${url}: scheme "${scheme ?? "(none)"}" is not http, https or ftp`, { url });
}

/** Downloads `url` into `dest` (complete or not at all). */
export function fetchUrl(url: string, dest: string, opts: FetchOptions = {}): Promise<DownloadResult> {
  return protocolOf(url).download(url, dest, opts);
}

/** Uploads the local file `src` to `url`. */
export function sendUrl(src: string, url: string): Promise<UploadResult> {
  return protocolOf(url).upload(src, url);
}

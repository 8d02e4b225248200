// The console's client of the control-plane API: same origin, every call
// SigV4-signed in the browser (see sigv4.js). Credentials never leave the
// page except as signatures.

import { sign, uriEncode } from "./sigv4.js";

const SERVICE = "kafka";
const BASE = "/replication/v1/replicators";

/** An error answer of the API (status 0: the API could not be reached). */
export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = type;
  }
}

export class Api {
  /**
   * credentials: { accessKeyId, secretAccessKey, region }
   * host: the Host header the browser sends (location.host)
   */
  constructor(credentials, host = globalThis.location?.host, fetchImpl = globalThis.fetch?.bind(globalThis)) {
    this.credentials = credentials;
    this.host = host;
    this.fetch = fetchImpl;
    this.skewMs = 0; // server clock minus ours, learnt from a refused request's Date header
    this.origin = ""; // "" = same origin; tests outside a browser set "http://host:port"
  }

  async call(method, path, query = []) {
    for (let attempt = 0; ; attempt++) {
      const signed = await sign({
        method, host: this.host, path, query,
        credentials: this.credentials, region: this.credentials.region, service: SERVICE,
        date: new Date(Date.now() + this.skewMs),
      });
      let res;
      try {
        res = await this.fetch(this.origin + signed.url, {
          method, headers: signed.headers, cache: "no-store", credentials: "omit", redirect: "error",
        });
      } catch (e) {
        throw new ApiError(0, "NetworkError", `The API could not be reached (${e.message || e}).`);
      }
      const text = await res.text();
      let body = null;
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        body = null;
      }
      if (res.ok && body) return body;
      const type = res.headers.get("X-Amzn-ErrorType") || (res.ok ? "InvalidResponse" : `HTTP ${res.status}`);
      const message = body?.message || body?.Message || (res.ok ? "The API answered with something that is not JSON." : res.statusText || `HTTP ${res.status}`);
      // A clock that is off by more than the server allows: correct once from
      // the server's Date header and try again.
      if (res.status === 401 && attempt === 0 && /request time/i.test(message)) {
        const serverTime = Date.parse(res.headers.get("Date") || "");
        if (!Number.isNaN(serverTime)) {
          this.skewMs = serverTime - Date.now();
          continue;
        }
      }
      throw new ApiError(res.status, type, message);
    }
  }

  /** ListReplicators, following nextToken (at most maxPages pages of 100). */
  async listReplicators({ maxPages = 20 } = {}) {
    const out = [];
    let token = "";
    for (let page = 0; page < maxPages; page++) {
      const query = [["maxResults", "100"]];
      if (token) query.push(["nextToken", token]);
      const res = await this.call("GET", BASE, query);
      out.push(...(res.replicators || []));
      token = res.nextToken || "";
      if (!token) break;
    }
    return out;
  }

  describeReplicator(arn) {
    return this.call("GET", `${BASE}/${uriEncode(arn)}`);
  }

  /** The status extension: jobs with per-partition progress, a summary, recent state events. */
  replicatorStatus(arn) {
    return this.call("GET", `${BASE}/${uriEncode(arn)}/status`);
  }
}

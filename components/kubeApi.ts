/**
 * Reads of a cluster's Kubernetes API with the kubeconfig its provider uses: the token from the
 * kubeconfig's exec plugin (kubelogin, as kubectl runs it), the server and its CA. For questions
 * the Kubernetes provider cannot answer without failing: a resource `get` of a missing object
 * fails the program, and the provider has no read that can answer "absent".
 */
import { execFile } from "child_process";
import * as http from "http";
import * as https from "https";

/** Where and how to reach one cluster's API server. */
export interface KubeAccess {
  server: string;
  /** PEM of the server's CA (certificate-authority-data, decoded). */
  ca: string;
  /** The exec plugin the kubeconfig's user runs (kubelogin get-token ...). */
  exec: { command: string; args: string[] };
}

/** The bearer token of the exec plugin's ExecCredential (client.authentication.k8s.io). */
function execToken(access: KubeAccess): Promise<string> {
  return new Promise((resolve, reject) => {
    // The process environment is inherited: kubelogin's AAD_LOGIN_METHOD and AZURE_* overrides apply as for the provider.
    execFile(access.exec.command, access.exec.args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${access.exec.command} ${access.exec.args[0] ?? ""} failed: ${stderr.trim() || err.message}`));
      try {
        const credential: unknown = JSON.parse(stdout);
        const status = typeof credential === "object" && credential !== null && "status" in credential ? credential.status : undefined;
        const token = typeof status === "object" && status !== null && "token" in status ? status.token : undefined;
        if (typeof token === "string" && token) resolve(token);
        else reject(new Error(`${access.exec.command} printed no ExecCredential token`));
      } catch {
        reject(new Error(`${access.exec.command} printed no ExecCredential JSON`));
      }
    });
  });
}

function get(access: KubeAccess, path: string, token: string): Promise<number> {
  const url = new URL(path, access.server);
  const request = url.protocol === "http:" ? http.request : https.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers: { Authorization: `Bearer ${token}`, Accept: "application/json" }, ca: access.ca, timeout: 30_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url.host} in 30 s`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Whether namespace `name` exists: GET /api/v1/namespaces/<name> (200 or 404). Any other answer
 * is an error naming the status: 403 means the identity lacks namespace read (AKS RBAC Reader).
 */
export async function namespaceExists(access: KubeAccess, name: string): Promise<boolean> {
  const status = await get(access, `/api/v1/namespaces/${encodeURIComponent(name)}`, await execToken(access));
  if (status === 200) return true;
  if (status === 404) return false;
  throw new Error(
    `reading namespace ${name} on ${new URL(access.server).host} answered HTTP ${status}${status === 403 ? ": the identity needs namespace read on the cluster (Azure Kubernetes Service RBAC Reader)" : ""}`,
  );
}

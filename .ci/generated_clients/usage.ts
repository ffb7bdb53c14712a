// Calls keygate's operations through the client generated from its document, as a
// user's code would; `tsc --strict` (.ci/generated_clients.sh) checks that each call
// and each field read fits the document. Never run.
import createClient from "openapi-fetch";
import type { components, paths } from "./keygate";

type Schemas = components["schemas"];

const keygate = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });

export async function tokenForResource(clientId: string, secret: string): Promise<string> {
  const { data, error } = await keygate.POST("/oauth/token", {
    body: {
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: secret,
      scope: "read",
      resource: "https://billing.example",
    },
  });
  if (error) {
    const code: Schemas["ErrorCode"] = error.error;
    throw new Error(`${code}: ${error.error_description}`);
  }
  return data.access_token;
}

export async function refresh(token: string): Promise<number> {
  const { data } = await keygate.POST("/oauth/token", {
    body: { grant_type: "refresh_token", refresh_token: token, resource: ["https://billing.example"] },
  });
  return data?.expires_in ?? 0;
}

export async function introspect(token: string): Promise<boolean> {
  const { data } = await keygate.POST("/oauth/introspect", { body: { token } });
  await keygate.POST("/oauth/revoke", { body: { token, token_type_hint: "refresh_token" } });
  return data?.active ?? false;
}

export async function registerClient(adminKey: string): Promise<string[]> {
  const { data } = await keygate.POST("/v1/clients", {
    headers: { "X-API-Key": adminKey },
    body: {
      name: "billing",
      scopes: ["read", "write"],
      default_scopes: ["read"],
      audiences: ["https://billing.example", "https://api.example"],
      token_endpoint_auth_method: "client_secret_post",
    },
  });
  if (!data) return [];
  const method: "client_secret_basic" | "client_secret_post" | "none" | null | undefined =
    data.token_endpoint_auth_method;
  void method;
  // A public client (token_endpoint_auth_method "none") has no secret.
  const secret: string | undefined = data.client_secret ?? undefined;
  void secret;
  const redirectUris: string[] = data.redirect_uris;
  void redirectUris;
  const updated = await keygate.PATCH("/v1/clients/{id}", {
    params: { path: { id: data.client_id } },
    body: { scopes: ["read"], audience: null, token_endpoint_auth_method: null },
  });
  return [...data.scopes, ...data.default_scopes, ...data.audiences, ...(updated.data?.scopes ?? [])];
}

export async function dynamicRegistration(initialToken: string): Promise<string> {
  const { data } = await keygate.POST("/oauth/register", {
    headers: { Authorization: `Bearer ${initialToken}` },
    body: {
      client_name: "partner",
      scope: "read",
      token_endpoint_auth_method: "client_secret_basic",
      keygate_audiences: ["https://billing.example"],
    },
  });
  return data?.token_endpoint_auth_method ?? "client_secret_basic";
}

export async function metadata(): Promise<string[]> {
  const { data } = await keygate.GET("/.well-known/oauth-authorization-server");
  if (!data) return [];
  return [data.issuer, data.token_endpoint, ...data.token_endpoint_auth_methods_supported];
}

export async function tokensIssued(adminKey: string, clientId: string): Promise<number> {
  const { data } = await keygate.GET("/v1/usage", {
    headers: { "X-API-Key": adminKey },
    params: { query: { client_id: clientId, granularity: "day" } },
  });
  const refusals: Record<string, number> = data?.data[0]?.tokens.refused_by_reason ?? {};
  void refusals;
  const top = data?.top?.map((busiest) => busiest.tokens.issued) ?? [];
  return (data?.data ?? []).reduce((sum, period) => sum + period.tokens.issued, 0) + top.length;
}

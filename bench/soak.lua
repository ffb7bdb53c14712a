-- wrk script for bench/soak.sh: a mix of keygate requests from one wrk run, every one
-- of which must succeed. Run with as many threads as connections (-tN -cN): each wrk
-- thread then drives one connection through the state machine of its role, sending a
-- request only after the previous response was read.
--
-- Roles (KG_ROLES: comma-separated role=connections, set by bench/soak.sh):
--   cc       client_credentials (KG_BASIC); every KG_INTROSPECT_EVERY-th token is then
--            introspected (must be active)
--   refresh  a refresh-token chain (KG_REFRESH_BASIC, a client with the refresh grant):
--            client_credentials starts it, then KG_CHAIN_LENGTH refresh_token grants
--            (every KG_INTROSPECT_EVERY-th refresh token is introspected: active),
--            then the current refresh token is revoked, introspected (must be
--            inactive now, still a 200) and a new chain begins
--   api_key  GET /v1/me with the API key (KG_API_KEY), alternately as X-API-Key and as
--            Authorization: Bearer
--   jwt      client_credentials for the management audience (KG_MGMT_BASIC), then
--            GET /v1/me with that access token KG_JWT_USES times (or for at most
--            KG_JWT_SECONDS), then the token is revoked, introspected (inactive) and a
--            new one obtained
--
-- A response is unexpected if its status is not 2xx or its body lacks what the step
-- needs (a token, "active":true/false, the credential kind). After one, the thread
-- starts its cycle over (a new chain / a new token), so one fault is counted once.
-- done() prints one "SOAK ..." line per request kind plus totals, which soak.sh parses.

local threads = {}
local roles = {}

-- Expand KG_ROLES into one role per thread, in order.
for spec in string.gmatch(os.getenv("KG_ROLES") or "", "[^,]+") do
    local name, n = spec:match("^%s*([%w_]+)=(%d+)%s*$")
    for _ = 1, tonumber(n) do table.insert(roles, name) end
end

function setup(thread)
    table.insert(threads, thread)
    local index = #threads
    thread:set("index", index)
    thread:set("role", roles[index] or "api_key")
end

local KINDS = { "token_cc", "token_refresh", "introspect", "revoke_refresh",
                "revoke_access", "me_api_key", "me_jwt" }

function init(args)
    counts, errors = {}, {}
    for _, k in ipairs(KINDS) do counts[k] = 0; errors[k] = 0 end
    samples = ""          -- the first few unexpected responses, for the report
    sample_count = 0
    basic = "Basic " .. (os.getenv("KG_BASIC") or "")
    refresh_basic = "Basic " .. (os.getenv("KG_REFRESH_BASIC") or "")
    mgmt_basic = "Basic " .. (os.getenv("KG_MGMT_BASIC") or "")
    api_key = os.getenv("KG_API_KEY") or ""
    chain_length = tonumber(os.getenv("KG_CHAIN_LENGTH") or "20")
    introspect_every = tonumber(os.getenv("KG_INTROSPECT_EVERY") or "10")
    jwt_uses = tonumber(os.getenv("KG_JWT_USES") or "1000")
    jwt_seconds = tonumber(os.getenv("KG_JWT_SECONDS") or "60")
    state = "start"       -- the step whose request is sent next
    step = 0              -- cc: tokens issued; refresh: refreshes in this chain; jwt: uses
    token = nil           -- the current access or refresh token
    token_time = 0
    kind = nil            -- the kind of the request in flight
end

local FORM = "application/x-www-form-urlencoded"

local function post(path, auth, body)
    return wrk.format("POST", path, { ["Content-Type"] = FORM, ["Authorization"] = auth }, body)
end

function request()
    if role == "cc" then
        if state == "introspect" then
            kind = "introspect"
            return post("/oauth/introspect", basic, "token=" .. token)
        end
        kind = "token_cc"
        return post("/oauth/token", basic, "grant_type=client_credentials")
    elseif role == "refresh" then
        if state == "start" then
            kind = "token_cc"
            return post("/oauth/token", refresh_basic, "grant_type=client_credentials")
        elseif state == "refresh" then
            kind = "token_refresh"
            return post("/oauth/token", refresh_basic, "grant_type=refresh_token&refresh_token=" .. token)
        elseif state == "introspect" or state == "introspect_revoked" then
            kind = "introspect"
            return post("/oauth/introspect", refresh_basic, "token=" .. token)
        else -- "revoke"
            kind = "revoke_refresh"
            return post("/oauth/revoke", refresh_basic, "token=" .. token .. "&token_type_hint=refresh_token")
        end
    elseif role == "jwt" then
        if state == "start" then
            kind = "token_cc"
            return post("/oauth/token", mgmt_basic, "grant_type=client_credentials")
        elseif state == "me" then
            kind = "me_jwt"
            return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. token })
        elseif state == "introspect_revoked" then
            kind = "introspect"
            return post("/oauth/introspect", mgmt_basic, "token=" .. token)
        else -- "revoke"
            kind = "revoke_access"
            return post("/oauth/revoke", mgmt_basic, "token=" .. token .. "&token_type_hint=access_token")
        end
    else -- api_key
        kind = "me_api_key"
        step = step + 1
        if step % 2 == 0 then
            return wrk.format("GET", "/v1/me", { ["X-API-Key"] = api_key })
        end
        return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. api_key })
    end
end

-- Counts the response; returns false (and records it) if it is unexpected.
local function check(ok, status, body)
    counts[kind] = counts[kind] + 1
    if status >= 200 and status < 300 and ok then return true end
    errors[kind] = errors[kind] + 1
    if sample_count < 3 then
        sample_count = sample_count + 1
        samples = samples .. string.format("[%s thread %d] %s %d %s\n", role, index, kind,
            status, (body or ""):sub(1, 200):gsub("\n", " "))
    end
    return false
end

function response(status, headers, body)
    if role == "cc" then
        if state == "introspect" then
            check(body:find('"active":true', 1, true), status, body)
            state = "start"
        else
            local t = body:match('"access_token":"([^"]+)"')
            if check(t, status, body) then
                token = t
                step = step + 1
                if step % introspect_every == 0 then state = "introspect" end
            end
        end
    elseif role == "refresh" then
        if state == "start" or state == "refresh" then
            local t = body:match('"refresh_token":"(kgr_[^"]+)"')
            if check(t, status, body) then
                token = t
                if state == "start" then step = 0 else step = step + 1 end
                if step >= chain_length then
                    state = "revoke"
                elseif step > 0 and step % introspect_every == 0 then
                    state = "introspect"
                else
                    state = "refresh"
                end
            else
                state = "start"
            end
        elseif state == "introspect" then
            local ok = check(body:find('"active":true', 1, true), status, body)
            state = ok and "refresh" or "start"
        elseif state == "revoke" then
            local ok = check(true, status, body)
            state = ok and "introspect_revoked" or "start"
        else -- "introspect_revoked": the revoked token must now be inactive
            check(body:find('"active":false', 1, true), status, body)
            state = "start"
        end
    elseif role == "jwt" then
        if state == "start" then
            local t = body:match('"access_token":"([^"]+)"')
            if check(t, status, body) then
                token = t
                token_time = os.time()
                step = 0
                state = "me"
            end
        elseif state == "me" then
            if check(body:find('"credential_kind":"access_token"', 1, true), status, body) then
                step = step + 1
                if step >= jwt_uses or os.time() - token_time >= jwt_seconds then
                    state = "revoke"
                end
            else
                state = "start"
            end
        elseif state == "revoke" then
            local ok = check(true, status, body)
            state = ok and "introspect_revoked" or "start"
        else -- "introspect_revoked"
            check(body:find('"active":false', 1, true), status, body)
            state = "start"
        end
    else -- api_key
        check(body:find('"credential_kind":"api_key"', 1, true), status, body)
    end
end

function done(summary, latency, requests)
    local counts_total, errors_total = {}, {}
    for _, k in ipairs(KINDS) do counts_total[k] = 0; errors_total[k] = 0 end
    local all_samples = ""
    for _, thread in ipairs(threads) do
        local c, e = thread:get("counts"), thread:get("errors")
        for _, k in ipairs(KINDS) do
            counts_total[k] = counts_total[k] + (c[k] or 0)
            errors_total[k] = errors_total[k] + (e[k] or 0)
        end
        all_samples = all_samples .. (thread:get("samples") or "")
    end
    local seconds = summary.duration / 1e6
    for _, k in ipairs(KINDS) do
        io.write(string.format("SOAK kind %s %d %d %.1f\n", k, counts_total[k], errors_total[k],
            counts_total[k] / seconds))
    end
    local e = summary.errors
    io.write(string.format("SOAK total %d %.3f\n", summary.requests, seconds))
    io.write(string.format("SOAK socket connect=%d read=%d write=%d timeout=%d status=%d\n",
        e.connect, e.read, e.write, e.timeout, e.status))
    io.write(string.format("SOAK latency p50=%.2f p90=%.2f p99=%.2f max=%.2f\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
    for line in all_samples:gmatch("[^\n]+") do io.write("SOAK sample " .. line .. "\n") end
end

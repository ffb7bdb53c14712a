-- wrk script: the authorization code grant, one connection per wrk thread (run with
-- -tN -cN: each thread's Lua state is then one connection's). KG_MODE says what a
-- connection does (bench/authorize.sh sets all of these):
--   flow      GET /oauth/authorize with the session cookie (303 with a code), then
--             POST /oauth/token exchanging that code, and again; counts flows and
--             times each one, from the authorize request to the token response.
--   mint      the authorize request alone; every code goes to KG_CODES_DIR/codes-<n>.
--   exchange  the token request alone, spending connection n's minted codes in order;
--             a connection that runs out stops (reported as dry).
-- KG_AUTHORIZE is the path and query of the authorization request, KG_COOKIE the
-- session cookie, KG_EXCHANGE the token request's form without its code (it ends in
-- "code=").
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } kg_timespec;
int clock_gettime(int clock, kg_timespec *ts);
]]
local timespec = ffi.new("kg_timespec")
local function now_us()
    ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
    return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("index", counter)
    table.insert(threads, thread)
end

function init(args)
    mode = os.getenv("KG_MODE")
    authorize_path = os.getenv("KG_AUTHORIZE")
    cookie = os.getenv("KG_COOKIE")
    exchange_form = os.getenv("KG_EXCHANGE")
    done_ops, failed, dry = 0, 0, 0
    first_failure = ""
    -- Flow latencies, in buckets of 10 µs (sparse).
    hist = {}
    code = nil
    if mode == "mint" then
        out = assert(io.open(os.getenv("KG_CODES_DIR") .. "/codes-" .. index, "w"))
    elseif mode == "exchange" then
        codes, next_code = {}, 1
        for line in io.lines(os.getenv("KG_CODES_DIR") .. "/codes-" .. index) do
            codes[#codes + 1] = line
        end
    end
end

local function authorize_request()
    return wrk.format("GET", authorize_path, { ["Cookie"] = cookie })
end

local function token_request(c)
    return wrk.format("POST", "/oauth/token", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
    }, exchange_form .. c)
end

function request()
    if mode == "exchange" then
        code = codes[next_code]
        if code == nil then
            -- Dry: the thread is being stopped; this request is not counted.
            return wrk.format("GET", "/healthz")
        end
        next_code = next_code + 1
        return token_request(code)
    end
    if mode == "flow" and code then
        return token_request(code)
    end
    started = now_us()
    return authorize_request()
end

local function fail(status, body)
    failed = failed + 1
    if first_failure == "" then
        first_failure = status .. " " .. string.sub(body or "", 1, 200)
    end
end

-- The code in a 303's Location.
local function code_of(status, headers)
    local location = headers["location"] or headers["Location"] or ""
    if status == 303 then
        return location:match("[?&]code=(kgac_[A-Za-z0-9_-]+)")
    end
end

local function exchanged(status, body)
    return status == 200 and body:find('"access_token":"', 1, true) ~= nil
end

function response(status, headers, body)
    if mode == "mint" then
        local c = code_of(status, headers)
        if c then
            out:write(c, "\n")
            done_ops = done_ops + 1
        else
            fail(status, body)
        end
    elseif mode == "exchange" then
        if code == nil then
            dry = 1
            wrk.thread:stop()
            return
        end
        if exchanged(status, body) then
            done_ops = done_ops + 1
        else
            fail(status, body)
        end
        if codes[next_code] == nil then
            dry = 1
            wrk.thread:stop()
        end
    elseif code == nil then -- flow, the authorize half
        code = code_of(status, headers)
        if not code then fail(status, body) end
    else -- flow, the token half
        code = nil
        if exchanged(status, body) then
            done_ops = done_ops + 1
            local bucket = math.floor((now_us() - started) / 10)
            hist[bucket] = (hist[bucket] or 0) + 1
        else
            fail(status, body)
        end
    end
end

local function percentile(all, total, p)
    local keys = {}
    for k in pairs(all) do keys[#keys + 1] = k end
    table.sort(keys)
    local seen, rank = 0, math.ceil(total * p)
    for _, k in ipairs(keys) do
        seen = seen + all[k]
        if seen >= rank then return k / 100 end -- ms
    end
    return 0
end

function done(summary, latency, requests)
    local total, failures, dried, all, example = 0, 0, 0, {}, ""
    for _, thread in ipairs(threads) do
        total = total + thread:get("done_ops")
        failures = failures + thread:get("failed")
        dried = dried + thread:get("dry")
        if example == "" then example = thread:get("first_failure") end
        for k, v in pairs(thread:get("hist")) do all[k] = (all[k] or 0) + v end
    end
    local seconds = summary.duration / 1000000
    local mode = os.getenv("KG_MODE")
    local what = ({ flow = "flows", mint = "codes minted", exchange = "code exchanges" })[mode]
    io.write(string.format("%s: %d in %.1f s, %.0f/s; failed: %d\n", what, total, seconds,
        total / seconds, failures))
    if mode == "flow" and total > 0 then
        io.write(string.format("flow latency (authorize + token): p50 %.2f ms, p99 %.2f ms\n",
            percentile(all, total, 0.50), percentile(all, total, 0.99)))
    end
    if mode == "exchange" and dried > 0 then
        io.write(string.format("WARNING: %d connections ran out of codes before the end" ..
            " (the rate above is then too low): mint for longer\n", dried))
    end
    if example ~= "" then io.write("first failure: " .. example .. "\n") end
end

-- wrk script: the refresh_token grant, one chain of refresh tokens per connection.
-- Run with as many threads as connections (-tN -cN): each wrk thread then drives one
-- connection, sends its current refresh token and takes the rotated one from the
-- response. KG_BASIC is base64("client_id:client_secret"); KG_TOKENS_FILE lists one
-- starting refresh token per line (bench/refresh.sh makes both).
local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("index", counter)
    table.insert(threads, thread)
end

function init(args)
    local i = 0
    for line in io.lines(os.getenv("KG_TOKENS_FILE")) do
        i = i + 1
        if i == index then token = line end
    end
    basic = "Basic " .. os.getenv("KG_BASIC")
    broken = 0
end

function request()
    return wrk.format("POST", "/oauth/token", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Authorization"] = basic,
    }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
    local next_token = body:match('"refresh_token":"(kgr_[^"]+)"')
    if status == 200 and next_token then
        token = next_token
    else
        broken = broken + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do
        total = total + thread:get("broken")
    end
    io.write(string.format("broken chains (non-200 responses): %d\n", total))
end

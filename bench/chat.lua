-- wrk script for bench/chat.sh: POST /api/chat "add ... tomorrow at 9" as one user, each
-- message a new conversation. The bearer token comes from TODOD_TOKEN in the environment.
local token = os.getenv("TODOD_TOKEN")
if not token or token == "" then
    error("set TODOD_TOKEN to a bearer token (bench/chat.sh does)")
end

wrk.method = "POST"
wrk.path = "/api/chat"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
local message = os.getenv("CHAT_MESSAGE") or "add call the plumber tomorrow at 9 #home"
wrk.body = '{"message":"' .. message .. '"}'

local shown = false
function response(status, headers, body)
    if status ~= 200 and not shown then
        shown = true
        io.stderr:write("unexpected " .. status .. ": " .. body .. "\n")
    end
end

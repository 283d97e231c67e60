-- wrk script for bench/api.sh: POST /api/tasks with a JSON body, as one user.
-- The bearer token comes from TODOD_TOKEN in the environment.
local token = os.getenv("TODOD_TOKEN")
if not token or token == "" then
    error("set TODOD_TOKEN to a bearer token (bench/api.sh does)")
end

wrk.method = "POST"
wrk.path = "/api/tasks"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"title":"Benchmark task","description":"created by wrk",' ..
           '"priority":"high","tags":["bench","load"],' ..
           '"due_at":"2030-01-15T09:00:00Z","reminders":[{"offset":"PT15M"}]}'

-- Anything but 201 is a failure worth seeing: print the first one.
local shown = false
function response(status, headers, body)
    if status ~= 201 and not shown then
        shown = true
        io.stderr:write("unexpected " .. status .. ": " .. body .. "\n")
    end
end

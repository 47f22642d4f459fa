-- wrk script: tallies the answers per serving worker ("pid=P " in the body).
-- TALLY_METHOD=POST sends a small form body instead of a GET (nginx does
-- not retry a POST that failed on an upstream connection).
if os.getenv("TALLY_METHOD") == "POST" then
  wrk.method = "POST"
  wrk.body = "a=1&b=2"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {}; bad = 0 end
function response(status, headers, body)
  local pid = string.match(body, "pid=(%d+) ")
  if status ~= 200 or pid == nil then bad = bad + 1 else counts[pid] = (counts[pid] or 0) + 1 end
end
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad")
    errors = errors + thread:get("bad")
    for pid, n in pairs(thread:get("counts")) do io.write("pid " .. pid .. " " .. n .. "\n") end
  end
  io.write("errors " .. errors .. "\n")
  -- Answers that came but were not 200 with a pid (socket errors apart).
  io.write("bad " .. bad .. "\n")
end

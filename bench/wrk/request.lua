-- One request shape for wrk. Environment:
--   BENCH_PATH  a path template: {i} {id} {username} {email} {phone} are filled for a random user
--   BENCH_N     how many users were seeded (users 1..N)
--   BENCH_AUTH  the Authorization header, if any
--   BENCH_BODY  a form body template, filled the same way; when set the request is a POST (a login),
--               and users the seed deactivates (every 50th) are skipped so that every login may succeed
--   BENCH_ID_FORMAT  the format of {id} for user i, when not the backend's (a Keycloak realm's own ids)
-- done() prints one JSON line with throughput, latency percentiles (microseconds) and errors.

local template = os.getenv("BENCH_PATH")
local n = tonumber(os.getenv("BENCH_N"))
local auth = os.getenv("BENCH_AUTH")
local body = os.getenv("BENCH_BODY")
if body == "" then body = nil end
local id_format = os.getenv("BENCH_ID_FORMAT")
if id_format == nil or id_format == "" then id_format = "00000000-0000-4000-8000-%012d" end
local first = {"james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
  "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles",
  "karen", "christopher", "nancy", "daniel", "lisa", "matthew", "betty", "anthony", "margaret", "mark",
  "sandra", "donald", "ashley"}
local last = {"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
  "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson",
  "martin", "lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez", "lewis", "robinson",
  "walker", "young", "allen", "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green", "adams",
  "nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter", "roberts"}
local domains = {"example.com", "mail.example.org", "corp.example.net", "fans.example.io"}

math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

function setup(thread)
  thread:set("id", tostring({}))
end

function init(args)
  if auth and auth ~= "" then
    wrk.headers["Authorization"] = auth
  end
  if body then
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

local function fill(text, i)
  local username = first[1 + i % 32] .. "." .. last[1 + math.floor(i / 32) % 50] .. i
  local values = {
    i = tostring(i),
    id = string.format(id_format, i),
    username = username,
    email = username .. "%40" .. domains[1 + math.floor(i / 1600) % 4],  -- bench.seed.email_domain
    phone = "%2B1555" .. string.format("%07d", i),
  }
  return (text:gsub("{(%w+)}", values))
end

function request()
  local i = math.random(1, n)
  if body then
    if i % 50 == 0 then i = i - 1 end
    return wrk.format("POST", fill(template, i), nil, fill(body, i))
  end
  return wrk.format("GET", fill(template, i))
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, errors,
    summary.errors.status))
end

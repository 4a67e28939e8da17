-- wrk: POST a consent capture with a new email address each time, in this run and across runs against the
-- same server (the run's start time is in the address: without it every run repeated the previous one's
-- addresses, as Lua's random numbers start from the same seed, and measured returning people instead).
local counter = 0
local stamp = 0
local thread_id = 0
local notice_hash = ""
setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
init = function(args)
  stamp = os.time()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Site-Key"] = os.getenv("SITE_KEY") or "sk_bench"
  -- the served notice's hash (benchmarks/support/consent_env.py): a capture naming another is refused
  notice_hash = os.getenv("NOTICE_HASH") or string.rep("a", 64)
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"email":"bench-%d-%d-%d-%d@example.nl","channel":"contact_form","notice":{"version":"2024-05",' ..
    '"hash":"%s"},"purposes":[{"purpose":"contact","granted":true}],"data_categories":["name","email"]}',
    stamp, tid, counter, math.random(1, 1000000000), notice_hash)
  return wrk.format(nil, "/v1/consents", nil, body)
end

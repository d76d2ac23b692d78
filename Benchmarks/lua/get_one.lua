-- GET /api/2.0/drives/{uuid}/ over a list of uuids: wrk ... -s get_one.lua URL -- UUIDFILE
-- Each thread starts at its own offset and walks the list round-robin. The requests are
-- formatted once in init(): wrk runs on the same cores as the server, and formatting a request
-- per call would make the load generator, not drivesd, the bottleneck.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install_setup()

local requests, i

function init(args)
  local uuids = C.read_lines(args[1])
  requests = {}
  for k = 1, #uuids do
    requests[k] = wrk.format("GET", "/api/2.0/drives/" .. uuids[k] .. "/")
  end
  i = ((thread_id or 0) * 7919) % #requests
end

function request()
  i = i % #requests + 1
  return requests[i]
end

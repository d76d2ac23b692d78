-- POST /api/2.0/drives/{uuid}/action/?do=clone with an empty body, round-robin over sources:
-- wrk ... -s clone.lua URL -- UUIDFILE
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install_setup()

local uuids, i

function init(args)
  uuids = C.read_lines(args[1])
  i = ((thread_id or 0) * 7919) % #uuids
end

function request()
  i = i % #uuids + 1
  return wrk.format("POST", "/api/2.0/drives/" .. uuids[i] .. "/action/?do=clone", nil, "")
end

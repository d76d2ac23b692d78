-- GET /api/2.0/drives/{uuid}/ over a list of uuids: wrk ... -s get_one.lua URL -- UUIDFILE
-- Each thread starts at its own offset and walks the list round-robin.
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
  return wrk.format("GET", "/api/2.0/drives/" .. uuids[i] .. "/")
end

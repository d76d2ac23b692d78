-- A fixed request with a body read from a file: wrk ... -s body.lua URL -- METHOD BODYFILE [CONTENT-TYPE]
-- The request is built once per thread (static), so this costs wrk nothing per request.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")

function init(args)
  wrk.method = args[1] or "POST"
  if args[2] and args[2] ~= "-" then
    wrk.body = C.read_file(args[2])
    wrk.headers["Content-Type"] = args[3] or "application/json"
  end
end

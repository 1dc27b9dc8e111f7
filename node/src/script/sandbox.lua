-- The scripts' sandbox, run once when a Lua state is made, with the full globals. It gives scripts Redis 7.0's environment:
-- globals and library tables that cannot be changed ("Attempt to modify a readonly
-- table"), an error for reading an undefined global, no loadfile, dofile or print, and no
-- binary chunks; redis.error_reply and status_reply; and pcall, which answers an error's
-- text as Redis's does (its errors are tables, or gdc's native errors). Stock Lua 5.1 has no read-only tables, so each protected table is seen
-- through an empty proxy whose metatable refuses writes; the functions that could reach
-- behind a proxy (rawset, setmetatable, getmetatable, loadstring, load) are wrapped;
-- getfenv, setfenv and newproxy are gone, as in Redis 7.0. Takes the function that gives a native error's text; returns the protected
-- globals, which become the state's globals, the setter of what FUNCTION LOAD's code sees as
-- globals, and the function that makes a table read-only.
local error_text = ...
local real_globals = _G
local real_string = string
local string_meta = getmetatable('')
local real_rawset, real_setmetatable = rawset, setmetatable
local real_setfenv = setfenv
local real_loadstring, real_load = loadstring, load
local real_pcall, real_unpack, real_maxn = pcall, unpack, table.maxn
local real_type, real_tostring, real_error = type, tostring, error

local READONLY = 'Attempt to modify a readonly table'
-- The real globals, behind their proxy once protected.
local behind_globals
-- proxy -> the table behind it; table -> its proxy (weak: only for the state's life).
local behind = real_setmetatable({}, { __mode = 'k' })
local proxy_of = real_setmetatable({}, { __mode = 'v' })

local function refuse()
    real_error(READONLY, 2)
end

local function is_protected(t)
    return behind[t] ~= nil or proxy_of[t] ~= nil
end

-- A read-only view of a table that is no library: what getmetatable shows of a protected
-- table's metatable.
local function locked(t)
    local proxy = {}
    behind[proxy] = t
    real_setmetatable(proxy, { __index = t, __newindex = refuse, __metatable = false })
    return proxy
end

-- The error for reading an undefined global, where the code that read it stands (as
-- Redis's: "user_script:1: Script attempted ..."): `level` 2 when the VM calls this as the
-- globals' `__index`, 3 from a function that is the `__index`.
local function missing(_, name, level)
    real_error("Script attempted to access nonexistent global variable '"
        .. real_tostring(name) .. "'", level or 2)
end

-- While FUNCTION LOAD runs a library's code, the globals it sees (only `redis`, with
-- register_function): set with set_load_api, nil otherwise. The globals' proxy reads them
-- then, and the real globals otherwise.
local load_api
local globals_meta
local function load_view(_, name)
    local v = load_api[name]
    if v == nil then
        missing(nil, name, 3)
    end
    return v
end
local function set_load_api(api)
    load_api = api
    globals_meta.__index = api and load_view or behind_globals
end

local protect
-- A read-only view of `t`; `globals`: reading an absent name is an error (`true`: these are
-- the globals, which FUNCTION LOAD's code sees as `load_api`; 'strict': another table).
function protect(t, globals)
    if proxy_of[t] then
        return proxy_of[t]
    end
    local proxy = {}
    proxy_of[t] = proxy
    behind[proxy] = t
    local meta = { __newindex = refuse }
    if globals == true then
        -- A script's globals are read from the table itself (a name it lacks is an error,
        -- by the table's own metatable, as Redis sets one on its globals): no function
        -- call for each global a script reads.
        meta.__index = t
        real_setmetatable(t, { __index = missing })
        globals_meta, behind_globals = meta, t
    elseif globals then
        meta.__index = function(_, name)
            local v = t[name]
            if v == nil then
                missing(nil, name, 3)
            end
            return v
        end
    else
        meta.__index = t
    end
    -- getmetatable(proxy) answers a read-only copy, so it cannot be changed either.
    meta.__metatable = locked({ __index = meta.__index, __newindex = refuse })
    real_setmetatable(proxy, meta)
    -- Tables inside are protected too (libraries' tables hold only functions and values).
    for k, v in pairs(t) do
        if real_type(v) == 'table' and v ~= t and k ~= '_G' and not behind[v] then
            t[k] = protect(v)
        end
    end
    return proxy
end

-- An error reply as a Lua error table, {err = 'CODE message'}: "-CODE message" keeps its
-- code, anything else is an ERR; CR and LF at either end go.
local function error_table(text)
    local code, msg = 'ERR', text
    if text:sub(1, 1) == '-' then
        local space = text:find(' ', 1, true)
        if space then
            code, msg = text:sub(2, space - 1), text:sub(space + 1)
        else
            msg = text:sub(2)
        end
    end
    msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
    return { err = code .. ' ' .. msg }
end

local redis = real_globals.redis
local function one_string(...)
    return select('#', ...) == 1 and real_type((...)) == 'string'
end
redis.error_reply = function(...)
    if not one_string(...) then
        return error_table('wrong number or type of arguments')
    end
    local text = ...
    if text:sub(1, 1) ~= '-' then
        text = '-' .. text
    end
    return error_table(text)
end
redis.status_reply = function(...)
    if not one_string(...) then
        return error_table('wrong number or type of arguments')
    end
    return { ok = (...) }
end

-- pcall answers an error as its text: a table's `err`, a native error's message; it lets a
-- SCRIPT KILL through.
pcall = function(f, ...)
    local out = { real_pcall(f, ...) }
    if not out[1] then
        local err = out[2]
        if real_type(err) == 'table' and real_type(err.err) == 'string' then
            out[2] = err.err
        elseif real_type(err) == 'userdata' then
            out[2] = error_text(err)
            -- A killed script stays killed: pcall does not catch it.
            if out[2]:find('Script killed by user', 1, true) then
                real_error(err, 0)
            end
        end
        return false, out[2]
    end
    return real_unpack(out, 1, real_maxn(out))
end

-- What scripts may not reach, as in Redis 7.0. Without newproxy a script cannot make a
-- userdata whose finalizer runs its code, so Lua's collector never runs a script's code
-- outside the script's protected call (script/native.rs calls Lua there unprotected).
loadfile, dofile, print, getfenv, setfenv, newproxy = nil, nil, nil, nil, nil, nil

rawset = function(t, k, v)
    if is_protected(t) then
        real_error(READONLY, 2)
    end
    return real_rawset(t, k, v)
end
setmetatable = function(t, m)
    if is_protected(t) then
        real_error(READONLY, 2)
    end
    return real_setmetatable(t, m)
end
-- Only source text loads: a binary chunk could break the interpreter. What it loads runs
-- with the protected globals.
loadstring = function(s, name)
    if real_type(s) == 'string' and s:byte(1) == 27 then
        return nil, 'attempt to load a binary chunk'
    end
    local f, err = real_loadstring(s, name)
    if f then
        real_setfenv(f, proxy_of[real_globals])
    end
    return f, err
end
load = function(reader, name)
    local first = true
    local f, err = real_load(function()
        local piece = reader()
        if first and real_type(piece) == 'string' and #piece > 0 then
            first = false
            if piece:byte(1) == 27 then
                real_error('attempt to load a binary chunk', 0)
            end
        end
        return piece
    end, name)
    if f then
        real_setfenv(f, proxy_of[real_globals])
    end
    return f, err
end

local globals = protect(real_globals, true)
real_globals._G = globals
-- Strings' methods (("x"):rep(3)) are the protected string library.
string_meta.__index = proxy_of[real_string] or protect(real_string)
string_meta.__metatable = locked({ __index = string_meta.__index, __newindex = refuse })

return globals, set_load_api, protect

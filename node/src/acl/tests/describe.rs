//! ACL LIST lines for sequences of ACL SETUSER calls, each against redis-server 7.0.15 (the
//! whole command table, so the categories chosen are Redis's).

use super::*;

/// (the ACL SETUSER calls on a new user `u`, separated by `;`, the ACL LIST line
/// redis-server 7.0.15 printed afterwards).
const REDIS_LINES: &[(&str, &str)] = &[
    (
        "on >pass ~* &* +@all",
        "user u on #d74ff0ee8da3b9806b18c877dbf29bbde50b5bd8e4dad7a3a725000feb82e8f1 ~* &* +@all",
    ),
    (
        "+@all -debug +debug|digest",
        "user u off resetchannels +@all -debug +debug|digest",
    ),
    (
        "-@all +get +set",
        "user u off resetchannels -@all +set +get",
    ),
    ("+@read", "user u off resetchannels -@all +@read"),
    ("+@read -get", "user u off resetchannels -@all +@read -get"),
    (
        "+@all -@dangerous",
        "user u off resetchannels +@all -@dangerous",
    ),
    (
        "+@all -@admin +config|get",
        "user u off resetchannels +@all -@admin +config|get",
    ),
    (
        "-@all +client|id +client|kill",
        "user u off resetchannels -@all +client|id +client|kill",
    ),
    ("-@all +client", "user u off resetchannels -@all +client"),
    (
        "+@all -client +client|id",
        "user u off resetchannels +@all -client +client|id",
    ),
    (
        "+@string +@list -lpush",
        "user u off resetchannels -@all +@string +@list -lpush",
    ),
    (
        "+@write +@read",
        "user u off resetchannels -@all +@write +@read",
    ),
    (
        "+@hash +@set +@sortedset",
        "user u off resetchannels -@all +@sortedset +@hash +@set",
    ),
    (
        "-@all +select|0 +select|1",
        "user u off resetchannels -@all +select|0 +select|1",
    ),
    (
        "+@all -select +select|0",
        "user u off resetchannels +@all -select +select|0",
    ),
    (
        "+@connection",
        "user u off resetchannels -@all +@connection",
    ),
    (
        "+@fast -@write",
        "user u off resetchannels -@all +@transaction +role +sismember +dbsize +quit +asking +zlexcount +touch +hmget +xlen +zscore +hget +scard +pttl +reset +readwrite +hlen +exists +pexpiretime +zrevrank +mget +llen +zcard +zcount +smismember +type +readonly -exec +select +lastsave +zmscore +echo +get +lolwut +expiretime +hexists +ttl +hstrlen +hello +bitfield_ro +publish +zrank +ping +getbit +time +spublish +strlen +auth",
    ),
    ("+@slow", "user u off resetchannels -@all +@slow"),
    (
        "+@pubsub &chan:* ~k:* %R~r:* %W~w:*",
        "user u off ~k:* %R~r:* %W~w:* resetchannels &chan:* -@all +@pubsub",
    ),
    ("reset", "user u off sanitize-payload resetchannels -@all"),
    (
        "on nopass sanitize-payload",
        "user u on nopass sanitize-payload resetchannels -@all",
    ),
    (
        "skip-sanitize-payload",
        "user u off skip-sanitize-payload resetchannels -@all",
    ),
    (
        ">a >b <a",
        "user u off #3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d resetchannels -@all",
    ),
    (
        "(+get ~k) (+set ~w)",
        "user u off resetchannels -@all (~k resetchannels -@all +get) (~w resetchannels -@all +set)",
    ),
    (
        "~a (~b +get) clearselectors",
        "user u off ~a resetchannels -@all",
    ),
    (
        "+@all ~* &* (-@all +get ~x)",
        "user u off ~* &* +@all (~x resetchannels -@all +get)",
    ),
    ("allcommands allkeys allchannels", "user u off ~* &* +@all"),
    ("nocommands", "user u off resetchannels -@all"),
    (
        "+@keyspace -@dangerous",
        "user u off resetchannels -@all +@keyspace -swapdb -restore-asking -keys -restore -migrate -flushdb -flushall",
    ),
    ("+@admin", "user u off resetchannels -@all +@admin"),
    ("+@scripting", "user u off resetchannels -@all +@scripting"),
    (
        "+@transaction +@blocking",
        "user u off resetchannels -@all +@blocking +@transaction",
    ),
    (
        "+@all -@keyspace -@read",
        "user u off resetchannels +@all -@read -@keyspace",
    ),
    (
        "+acl|whoami +acl|cat",
        "user u off resetchannels -@all +acl|whoami +acl|cat",
    ),
    (
        "~a %R~a %W~b %RW~c",
        "user u off ~a %W~b ~c resetchannels -@all",
    ),
    (
        "&a &b resetchannels &c",
        "user u off resetchannels &c -@all",
    ),
    ("%R~*", "user u off %R~* resetchannels -@all"),
    (
        "+@geo +@stream +@bitmap +@hyperloglog",
        "user u off resetchannels -@all +@stream +@geo +@bitmap +@hyperloglog",
    ),
    (
        "+config|get +config|set -config|set",
        "user u off resetchannels -@all +config|get",
    ),
    (
        "-@all +@read -@keyspace +keys",
        "user u off resetchannels -@all +@bitmap +@geo +@hash +@set +@sortedset -geoadd +xinfo|stream +xinfo|groups +xinfo|consumers -bitop -bzmpop -hset -bitfield -georadius +lindex -zrem -zincrby +xrevrange -setbit -bzpopmax -zremrangebyrank -hsetnx -zdiffstore -sadd +xpending +keys -georadiusbymember +xlen -zunionstore +substr -hdel -zpopmin -zremrangebyscore -hincrby -sinterstore -hincrbyfloat -srem -sort +mget +llen +pfcount +lrange -smove +get -sunionstore -zadd +lolwut +getrange +xread -hmset +memory|usage +lcs +xrange -bzpopmin -geosearchstore -zpopmax +lpos -zmpop -zrangestore -zremrangebylex -spop -sdiffstore -zinterstore +strlen",
    ),
    ("+@all -@all +get", "user u off resetchannels -@all +get"),
    (
        "+GET +Client|ID ~K",
        "user u off ~K resetchannels -@all +client|id +get",
    ),
    ("+@all -get +get", "user u off resetchannels +@all"),
    ("resetkeys ~x allkeys", "user u off ~* resetchannels -@all"),
    (
        "+select|0 +select|0 +select|A +select|a",
        "user u off resetchannels -@all +select|0 +select|A",
    ),
    (
        "+debug|digest +debug",
        "user u off resetchannels -@all +debug",
    ),
    (
        "+@read ; -@string",
        "user u off resetchannels -@all +@bitmap +@geo +@hash +@set +@sortedset -geoadd +xinfo|stream +xinfo|groups +xinfo|consumers -bitop +dbsize -bzmpop -hset -bitfield -georadius +lindex -zrem -zincrby +xrevrange -setbit +touch -bzpopmax -zremrangebyrank -hsetnx -zdiffstore -sadd +xpending +keys -georadiusbymember +xlen -zunionstore -hdel +object|encoding +object|idletime +object|freq +object|refcount -zpopmin -zremrangebyscore -hincrby -sinterstore +pttl -hincrbyfloat -srem -sort +exists +pexpiretime +llen +pfcount +lrange +type -smove -sunionstore -zadd +lolwut +xread +expiretime -hmset +memory|usage +dump +xrange -bzpopmin +randomkey -geosearchstore -zpopmax +lpos +ttl -zmpop -zrangestore -zremrangebylex -spop +scan -sdiffstore -zinterstore",
    ),
    (
        "+@all ; -@write ; +set",
        "user u off resetchannels +@all -@write +set",
    ),
    ("on >p1 ; resetpass", "user u on resetchannels -@all"),
    (
        "~x ; +@all ; (&c +publish) ; (~y)",
        "user u off ~x resetchannels +@all (resetchannels &c -@all +publish) (~y resetchannels -@all)",
    ),
    (
        "+@string ; +@all ; -@string",
        "user u off resetchannels +@all -@string",
    ),
    (
        "+@read +@write -@keyspace -@dangerous +@connection",
        "user u off resetchannels -@all +@connection +@string +@hash +@geo +@blocking +@bitmap +@set +@hyperloglog +@stream +@sortedset +@list -xinfo|help -xgroup|help -pfdebug -pfselftest -sort_ro -sort +lolwut +memory|usage +function|flush +function|load +function|restore +function|delete",
    ),
    ("%W~w ~w", "user u off ~w resetchannels -@all"),
    ("+@all -@slow", "user u off resetchannels +@all -@slow"),
    (
        "+@sortedset -zadd +@fast -@hash",
        "user u off resetchannels -@all +@sortedset +@transaction +@string +@fast -set -hset -mset -hmget -hsetnx -setex -substr -hdel -hget -hincrby -msetnx -hincrbyfloat -hlen -exec -getrange -hmset -lcs -hexists -hstrlen -psetex -setrange",
    ),
    (
        "+@dangerous -@admin",
        "user u off resetchannels -@all +swapdb +restore-asking +keys +sort_ro +sort +restore +migrate +flushdb +flushall +info",
    ),
    (
        "+@all -@pubsub -@scripting -@transaction",
        "user u off resetchannels +@all -@scripting -@pubsub -@transaction",
    ),
    (
        "+@list +@blocking -blpop",
        "user u off resetchannels -@all +@list +bzmpop +bzpopmax +xreadgroup -blpop +xread +bzpopmin",
    ),
    (
        "+@read -@fast",
        "user u off resetchannels -@all +@geo +@read -geoadd -sismember -dbsize -zlexcount -georadius -touch -hmget -georadiusbymember -xlen -zscore -hget -scard -pttl -hlen -exists -pexpiretime -zrevrank -mget -llen -zcard -zcount -smismember -type -zmscore -get -lolwut -expiretime -hexists -geosearchstore -ttl -hstrlen -bitfield_ro -zrank -getbit -strlen",
    ),
    (
        "(~a\"b)",
        "user u off resetchannels -@all (resetchannels -@all)",
    ),
    (
        "( +get ~x )",
        "user u off resetchannels -@all (~x resetchannels -@all +get)",
    ),
];

#[test]
fn list_lines_match_redis_for_every_recorded_sequence() {
    for (calls, redis_line) in REDIS_LINES {
        let mut users = redis_users();
        for call in calls.split(';') {
            setuser(&mut users, "u", call).unwrap_or_else(|e| panic!("{calls}: {e}"));
        }
        assert_eq!(
            list_line(&users, "u"),
            by_name(redis_line),
            "rules: {calls}"
        );
    }
}

#[test]
fn list_lines_read_back_give_the_same_user() {
    for (calls, _) in REDIS_LINES {
        let mut users = redis_users();
        for call in calls.split(';') {
            setuser(&mut users, "u", call).unwrap_or_else(|e| panic!("{calls}: {e}"));
        }
        let line = list_line(&users, "u");
        let rules = line.strip_prefix("user u ").expect("a list line");
        let mut again = redis_users();
        setuser(&mut again, "u", rules).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(list_line(&again, "u"), line);
    }
}

#[test]
fn the_default_user_is_listed_as_redis_lists_it() {
    let users = redis_users();
    assert_eq!(
        list_line(&users, "default"),
        "user default on nopass ~* &* +@all"
    );
}

/// 300 random rule lists and the lines redis-server 7.0.15 printed for them.
const REDIS_RANDOM: &str = include_str!("../testdata/redis70_random_setuser.tsv");

#[test]
fn random_rule_lists_are_described_as_redis_describes_them() {
    let mut cases = 0;
    for row in REDIS_RANDOM.lines().filter(|l| !l.starts_with('#')) {
        let (rules, redis_line) = row.split_once('\t').expect("rules, tab, line");
        let mut users = redis_users();
        setuser(&mut users, "u", rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
        let line = list_line(&users, "u");
        assert_eq!(line, by_name(redis_line), "rules: {rules}");
        let mut again = redis_users();
        let described = line.strip_prefix("user u ").expect("a list line");
        setuser(&mut again, "u", described).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(list_line(&again, "u"), line);
        cases += 1;
    }
    assert_eq!(cases, 300);
}

//! The command table's geo commands.

use super::keyspec::*;
use super::*;
use crate::cmd::geo;

pub(super) static COMMANDS: &[Spec] = &[
    cmd("geoadd", -5)
        .flags(WRITE | DENYOOM)
        .acl(acl::GEO)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Add one or more geospatial items in the geospatial index represented using a sorted set",
            "3.2.0",
            Group::Geo,
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        )
        .run(geo::geoadd),
    cmd("geodist", -4)
        .flags(READONLY)
        .acl(acl::GEO)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Returns the distance between two members of a geospatial index",
            "3.2.0",
            Group::Geo,
            "O(log(N))",
        )
        .run(geo::geodist),
    cmd("geohash", -2)
        .flags(READONLY)
        .acl(acl::GEO)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Returns members of a geospatial index as standard geohash strings",
            "3.2.0",
            Group::Geo,
            "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
        )
        .run(geo::geohash),
    cmd("geopos", -2)
        .flags(READONLY)
        .acl(acl::GEO)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Returns longitude and latitude of members of a geospatial index",
            "3.2.0",
            Group::Geo,
            "O(N) where N is the number of members requested.",
        )
        .run(geo::geopos),
    cmd("georadius", -6)
        .flags(WRITE | DENYOOM)
        .acl(acl::GEO)
        .keys(&[
            key(RO | ACCESS, index(1), range(0, 1, 0)),
            key(OW | UPDATE, keyword("STORE", 6), range(0, 1, 0)),
            key(OW | UPDATE, keyword("STOREDIST", 6), range(0, 1, 0)),
        ])
        .doc(
            "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
            "3.2.0",
            Group::Geo,
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument")
        .run(geo::georadius),
    cmd("georadius_ro", -6)
        .flags(READONLY)
        .acl(acl::GEO)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "A read-only variant for GEORADIUS",
            "3.2.10",
            Group::Geo,
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` argument")
        .run(geo::georadius_ro),
    cmd("georadiusbymember", -5)
        .flags(WRITE | DENYOOM)
        .acl(acl::GEO)
        .keys(&[
            key(RO | ACCESS, index(1), range(0, 1, 0)),
            key(OW | UPDATE, keyword("STORE", 5), range(0, 1, 0)),
            key(OW | UPDATE, keyword("STOREDIST", 5), range(0, 1, 0)),
        ])
        .doc(
            "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
            "3.2.0",
            Group::Geo,
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments")
        .run(geo::georadiusbymember),
    cmd("georadiusbymember_ro", -5)
        .flags(READONLY)
        .acl(acl::GEO)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "A read-only variant for GEORADIUSBYMEMBER",
            "3.2.10",
            Group::Geo,
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        )
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments")
        .run(geo::georadiusbymember_ro),
    cmd("geosearch", -7)
        .flags(READONLY)
        .acl(acl::GEO)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
            "6.2.0",
            Group::Geo,
            "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        )
        .run(geo::geosearch),
    cmd("geosearchstore", -8)
        .flags(WRITE | DENYOOM)
        .acl(acl::GEO)
        .keys(&[
            key(OW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
            "6.2.0",
            Group::Geo,
            "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        )
        .run(geo::geosearchstore),
];

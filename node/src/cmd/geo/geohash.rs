//! Redis's geohash: a position as a 52-bit interleaved grid cell (26 bits of latitude on the
//! even bits, 26 of longitude on the odd ones) over Web Mercator's latitude range, stored as
//! a sorted-set score; the 3x3 cells a search reads; and the haversine distance Redis uses.
//! The arithmetic follows Redis's own step by step, so that positions and distances print the
//! same digits.

use std::f64::consts::PI;

pub const STEP_MAX: u8 = 26;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
/// Web Mercator's limits (EPSG:900913): no geocoding at the poles.
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;

/// Earth's quadratic mean radius for WGS-84, as Redis takes it.
const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

fn deg_rad(deg: f64) -> f64 {
    deg * (PI / 180.0)
}

fn rad_deg(rad: f64) -> f64 {
    rad / (PI / 180.0)
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The ranges scores are made over.
pub const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A grid cell: `step` bits of each coordinate, interleaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

/// A cell's bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub long: Range,
    pub lat: Range,
}

/// Bit `i` of `v` to bit `2i`.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The even bits of `v`, packed.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// The cell of `step` bits holding (`long`, `lat`) over the given ranges; `None` outside
/// them (or outside Mercator's).
pub fn encode(long: f64, lat: f64, step: u8, long_range: Range, lat_range: Range) -> Option<Cell> {
    if !(LONG_MIN..=LONG_MAX).contains(&long) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || long < long_range.min || long > long_range.max
    {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * cells;
    let long_offset = (long - long_range.min) / (long_range.max - long_range.min) * cells;
    // Truncated toward zero, as C converts a double to an unsigned integer.
    let bits = spread(lat_offset as u32) | (spread(long_offset as u32) << 1);
    Some(Cell { bits, step })
}

/// The bounds of `cell` over the given ranges.
pub fn decode(cell: Cell, long_range: Range, lat_range: Range) -> Area {
    let lat_i = squash(cell.bits);
    let long_i = squash(cell.bits >> 1);
    let cells = (1u64 << cell.step) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let at = |min: f64, i: u32, scale: f64| min + (f64::from(i) / cells) * scale;
    Area {
        lat: Range {
            min: at(lat_range.min, lat_i, lat_scale),
            max: at(lat_range.min, lat_i.wrapping_add(1), lat_scale),
        },
        long: Range {
            min: at(long_range.min, long_i, long_scale),
            max: at(long_range.min, long_i.wrapping_add(1), long_scale),
        },
    }
}

/// A cell's center (longitude, latitude), within the valid ranges.
fn center(area: &Area) -> (f64, f64) {
    let long = ((area.long.min + area.long.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (long, lat)
}

/// The score a member at (`long`, `lat`) gets; `None` outside the valid ranges.
pub fn score_of(long: f64, lat: f64) -> Option<u64> {
    encode(long, lat, STEP_MAX, LONG_RANGE, LAT_RANGE).map(align52)
}

/// The position a score stands for: the center of its cell (what GEOPOS answers).
pub fn position_of(score: f64) -> (f64, f64) {
    let cell = Cell {
        // As C converts the double (a negative score reads as cell 0 here).
        bits: score as u64,
        step: STEP_MAX,
    };
    center(&decode(cell, LONG_RANGE, LAT_RANGE))
}

/// A cell's bits moved to the top of 52 (a score's precision).
pub fn align52(cell: Cell) -> u64 {
    cell.bits << (52 - u32::from(cell.step) * 2)
}

/// The standard 11-character geohash of a position (over latitude -90..90, not Mercator's
/// range; the 11th character is always `0`: a score has 52 bits).
pub fn text_of(long: f64, lat: f64) -> Option<String> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let world = Range {
        min: -90.0,
        max: 90.0,
    };
    let cell = encode(long, lat, STEP_MAX, LONG_RANGE, world)?;
    Some(
        (0..11)
            .map(|i| {
                let idx = if i == 10 {
                    0
                } else {
                    (cell.bits >> (52 - (i + 1) * 5)) & 0x1f
                };
                ALPHABET[idx as usize] as char
            })
            .collect(),
    )
}

/// The odd bits: longitude's.
const LONG_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
/// The even bits: latitude's.
const LAT_BITS: u64 = 0x5555_5555_5555_5555;

/// `cell` moved one cell by `d` (-1, 0 or 1) along the coordinate whose bits `mine` marks
/// (adding to those bits alone, the others filled with ones to carry across them).
fn move_along(cell: Cell, mine: u64, d: i8) -> Cell {
    if d == 0 {
        return cell;
    }
    let shift = 64 - u32::from(cell.step) * 2;
    let mut own = cell.bits & mine;
    let others = cell.bits & !mine;
    let fill = !mine >> shift;
    own = if d > 0 {
        own.wrapping_add(fill + 1)
    } else {
        (own | fill).wrapping_sub(fill + 1)
    };
    own &= mine >> shift;
    Cell {
        bits: own | others,
        step: cell.step,
    }
}

/// Cells around one, in the order a search reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Side {
    #[default]
    North,
    South,
    East,
    West,
    NorthEast,
    NorthWest,
    SouthEast,
    SouthWest,
}

const SIDES: [Side; 8] = [
    Side::North,
    Side::South,
    Side::East,
    Side::West,
    Side::NorthEast,
    Side::NorthWest,
    Side::SouthEast,
    Side::SouthWest,
];

fn neighbor(cell: Cell, side: Side) -> Cell {
    let (long, lat) = match side {
        Side::North => (0, 1),
        Side::South => (0, -1),
        Side::East => (1, 0),
        Side::West => (-1, 0),
        Side::NorthEast => (1, 1),
        Side::NorthWest => (-1, 1),
        Side::SouthEast => (1, -1),
        Side::SouthWest => (-1, -1),
    };
    move_along(move_along(cell, LONG_BITS, long), LAT_BITS, lat)
}

/// How many bits per coordinate make a cell about the size of `range_m` at latitude `lat`.
fn steps_for_radius(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return STEP_MAX;
    }
    let mut range_m = range_m;
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    // Make sure the range fits in most cases.
    step -= 2;
    // Cells are narrower toward the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// What a search covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: its shape around a center, in the unit `to_meters` converts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    pub long: f64,
    pub lat: f64,
    pub shape: Shape,
    pub to_meters: f64,
}

impl Search {
    /// Half the shape's height and width, in meters.
    fn half_sizes(&self) -> (f64, f64) {
        match self.shape {
            Shape::Radius(r) => (self.to_meters * r, self.to_meters * r),
            Shape::Box { width, height } => {
                (self.to_meters * height / 2.0, self.to_meters * width / 2.0)
            }
        }
    }

    /// The bounding box: (min long, min lat, max long, max lat).
    fn bounds(&self) -> (f64, f64, f64, f64) {
        let (height, width) = self.half_sizes();
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let long_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        // Hemispheres widen in opposite directions.
        let long_delta = if self.lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        (
            self.long - long_delta,
            self.lat - lat_delta,
            self.long + long_delta,
            self.lat + lat_delta,
        )
    }

    /// The cells to read, in Redis's order (the center's first), without the ones the
    /// shape cannot reach and without a cell equal to the one read just before it.
    pub fn cells(&self) -> Vec<Cell> {
        let (min_long, min_lat, max_long, max_lat) = self.bounds();
        let radius_m = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.to_meters;
        let mut steps = steps_for_radius(radius_m, self.lat);
        let cell_at = |steps| {
            encode(self.long, self.lat, steps, LONG_RANGE, LAT_RANGE).unwrap_or(Cell {
                bits: 0,
                step: steps,
            })
        };
        let mut cell = cell_at(steps);
        // Near a cell's edge the estimated step may be too fine for the sides to cover
        // the shape: one step coarser then.
        let area_of = |c: Cell| decode(c, LONG_RANGE, LAT_RANGE);
        let too_fine = area_of(neighbor(cell, Side::North)).lat.max < max_lat
            || area_of(neighbor(cell, Side::South)).lat.min > min_lat
            || area_of(neighbor(cell, Side::East)).long.max < max_long
            || area_of(neighbor(cell, Side::West)).long.min > min_long;
        if steps > 1 && too_fine {
            steps -= 1;
            cell = cell_at(steps);
        }
        let area = area_of(cell);
        let mut wanted = [true; 8];
        if steps >= 2 {
            let drop = |wanted: &mut [bool; 8], sides: [Side; 3]| {
                for s in sides {
                    wanted[SIDES.iter().position(|x| *x == s).expect("a side")] = false;
                }
            };
            if area.lat.min < min_lat {
                drop(&mut wanted, [Side::South, Side::SouthWest, Side::SouthEast]);
            }
            if area.lat.max > max_lat {
                drop(&mut wanted, [Side::North, Side::NorthEast, Side::NorthWest]);
            }
            if area.long.min < min_long {
                drop(&mut wanted, [Side::West, Side::SouthWest, Side::NorthWest]);
            }
            if area.long.max > max_long {
                drop(&mut wanted, [Side::East, Side::SouthEast, Side::NorthEast]);
            }
        }
        let mut cells = vec![cell];
        // Redis compares a cell with the last one read after the center only: with a huge
        // radius neighbors can be the same cell.
        let mut last_side: Option<Cell> = None;
        for (side, keep) in SIDES.iter().zip(wanted) {
            if !keep {
                continue;
            }
            let c = neighbor(cell, *side);
            if last_side == Some(c) {
                continue;
            }
            cells.push(c);
            last_side = Some(c);
        }
        cells
    }

    /// The distance from the center to the position of `score`, in meters, if the shape
    /// holds it; with that position.
    pub fn holds(&self, score: f64) -> Option<(f64, f64, f64)> {
        let (long, lat) = position_of(score);
        let d = match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.long, self.lat, long, lat);
                (d <= r * self.to_meters).then_some(d)?
            }
            Shape::Box { width, height } => {
                let (width, height) = (width * self.to_meters, height * self.to_meters);
                // Latitude first: it costs less.
                if lat_distance(lat, self.lat) > height / 2.0 {
                    return None;
                }
                if distance(long, lat, self.long, lat) > width / 2.0 {
                    return None;
                }
                distance(self.long, self.lat, long, lat)
            }
        };
        Some((d, long, lat))
    }
}

/// The scores of the members in `cell`: from the first, up to (not including) the second.
pub fn scores_of(cell: Cell) -> (f64, f64) {
    let min = align52(cell);
    let max = align52(Cell {
        bits: cell.bits + 1,
        step: cell.step,
    });
    (min as f64, max as f64)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine distance in meters between two positions (Redis's formula).
pub fn distance(long1: f64, lat1: f64, long2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(long2) - deg_rad(long1)) / 2.0).sin();
    // Same longitude: no need for the expensive part.
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreading_and_squashing_are_inverse() {
        for v in [0u32, 1, 2, 0x3ff_ffff, 0x155_5555, 12345678] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(spread(v) & 0xaaaa_aaaa_aaaa_aaaa, 0);
        }
    }

    #[test]
    fn scores_and_positions_are_redis_s() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo": Redis stores 3479099956230698.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        let (long, lat) = position_of(3479099956230698.0);
        assert_eq!(format!("{long:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 86.0), None);
        assert_eq!(text_of(long, lat).as_deref(), Some("sqc8b49rny0"));
    }

    #[test]
    fn distances_are_redis_s() {
        // GEODIST Sicily Palermo Catania: 166274.1516 m.
        let (a, b) = (
            position_of(3479099956230698.0),
            position_of(3479447370796909.0),
        );
        let d = distance(a.0, a.1, b.0, b.1);
        assert_eq!(format!("{d:.4}"), "166274.1516");
    }

    #[test]
    fn neighbors_move_one_cell() {
        let c = encode(0.0, 0.0, 4, LONG_RANGE, LAT_RANGE).expect("in range");
        let area = decode(c, LONG_RANGE, LAT_RANGE);
        let east = decode(neighbor(c, Side::East), LONG_RANGE, LAT_RANGE);
        assert_eq!(east.long.min, area.long.max);
        assert_eq!(east.lat, area.lat);
        let north = decode(neighbor(c, Side::North), LONG_RANGE, LAT_RANGE);
        assert_eq!(north.lat.min, area.lat.max);
        assert_eq!(north.long, area.long);
    }
}

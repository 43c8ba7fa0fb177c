//! The built-in labelled data set: 32x32 RGB images of one coloured geometric shape (10
//! kinds, the class) on a textured background, sometimes crossed by a thin distractor line.
//! Generated in plain Rust on u8 buffers, deterministically from (seed, image index): image i
//! is the same whatever the count or the number of threads, and the classes are exactly
//! balanced (image i has class i mod 10).
//!
//! What varies inside a class: position, size (radius 6..13 px), rotation, colour and its
//! shading, the background (gradient, stripes, checker, smooth noise, plaid, each with its own
//! colours, frequency and angle), the distractor line, and pixel noise.
use super::{mix, SplitMix64};

/// Side of the images.
pub const SIZE: usize = 32;
/// Number of classes (shape kinds).
pub const NUM_CLASSES: usize = 10;
/// Class names, by label.
pub const CLASS_NAMES: [&str; NUM_CLASSES] = [
    "circle", "square", "triangle", "ring", "cross", "star", "hexagon", "ellipse", "diamond",
    "crescent",
];

const PIX: usize = SIZE * SIZE;
const IMG: usize = 3 * PIX;

/// `n` images (uint8, N x 3 x 32 x 32, channel planes row-major) and their labels (0..10).
pub fn shapes(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut px = vec![0u8; n * IMG];
    let labels: Vec<u8> = (0..n).map(|i| (i % NUM_CLASSES) as u8).collect();
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let per = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (t, chunk) in px.chunks_mut(per * IMG).enumerate() {
            s.spawn(move || {
                for (k, out) in chunk.chunks_mut(IMG).enumerate() {
                    let i = t * per + k;
                    render(i as u64, seed, i % NUM_CLASSES, out);
                }
            });
        }
    });
    (px, labels)
}

/// Render image `index` of class `class` into `out` (3 x 32 x 32 bytes).
pub fn render(index: u64, seed: u64, class: usize, out: &mut [u8]) {
    let mut rng = SplitMix64::new(mix(seed, index));
    let mut img = [0f32; IMG];
    let mean = background(&mut rng, &mut img);

    // The distractor goes behind or in front of the shape.
    let line = if rng.f32() < 0.6 {
        Some(Line::random(&mut rng))
    } else {
        None
    };
    let line_front = rng.f32() < 0.5;
    if let (Some(l), false) = (&line, line_front) {
        l.draw(&mut img);
    }
    Shape::random(&mut rng, class, mean).draw(&mut img);
    if let (Some(l), true) = (&line, line_front) {
        l.draw(&mut img);
    }

    let amp = rng.range(0.0, 0.08);
    for (o, v) in out.iter_mut().zip(img.iter()) {
        let noisy = v + amp * (rng.f32() - 0.5);
        *o = (noisy * 255.0).round().clamp(0.0, 255.0) as u8;
    }
}

fn random_colour(rng: &mut SplitMix64) -> [f32; 3] {
    [rng.f32(), rng.f32(), rng.f32()]
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// Fill the background; returns its mean colour.
fn background(rng: &mut SplitMix64, img: &mut [f32; IMG]) -> [f32; 3] {
    let c0 = random_colour(rng);
    let contrast = rng.range(0.15, 0.7);
    let c1 = {
        let d = random_colour(rng);
        [
            (c0[0] + contrast * (2.0 * d[0] - 1.0)).clamp(0.0, 1.0),
            (c0[1] + contrast * (2.0 * d[1] - 1.0)).clamp(0.0, 1.0),
            (c0[2] + contrast * (2.0 * d[2] - 1.0)).clamp(0.0, 1.0),
        ]
    };
    let angle = rng.range(0.0, std::f32::consts::TAU);
    let (ca, sa) = (angle.cos(), angle.sin());
    let kind = rng.below(5);
    let freq = rng.range(0.25, 1.2);
    let phase = rng.range(0.0, std::f32::consts::TAU);
    let freq2 = rng.range(0.25, 1.2);
    let period = rng.range(3.0, 8.0);
    // Smooth noise: random values on a (g+1) x (g+1) grid, bilinearly interpolated.
    let g = 2 + rng.below(5) as usize;
    let mut grid = [0f32; 64];
    for v in grid.iter_mut().take((g + 1) * (g + 1)) {
        *v = rng.f32();
    }
    let mut sum = [0f32; 3];
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let u = fx * ca + fy * sa;
            let v = -fx * sa + fy * ca;
            let t = match kind {
                0 => (u / (SIZE as f32 * 1.42) + 0.5).clamp(0.0, 1.0),
                1 => 0.5 + 0.5 * (freq * u + phase).sin(),
                2 => {
                    let parity =
                        ((u / period).floor() as i64 + (v / period).floor() as i64).rem_euclid(2);
                    parity as f32
                }
                3 => {
                    let gx = fx / SIZE as f32 * g as f32;
                    let gy = fy / SIZE as f32 * g as f32;
                    let (ix, iy) = ((gx as usize).min(g - 1), (gy as usize).min(g - 1));
                    let (tx, ty) = (gx - ix as f32, gy - iy as f32);
                    let at = |i: usize, j: usize| grid[j * (g + 1) + i];
                    let top = at(ix, iy) * (1.0 - tx) + at(ix + 1, iy) * tx;
                    let bot = at(ix, iy + 1) * (1.0 - tx) + at(ix + 1, iy + 1) * tx;
                    top * (1.0 - ty) + bot * ty
                }
                _ => 0.25 * (2.0 + (freq * u + phase).sin() + (freq2 * v).sin()),
            };
            let c = lerp3(c0, c1, t);
            let p = y * SIZE + x;
            for ch in 0..3 {
                img[ch * PIX + p] = c[ch];
                sum[ch] += c[ch];
            }
        }
    }
    [
        sum[0] / PIX as f32,
        sum[1] / PIX as f32,
        sum[2] / PIX as f32,
    ]
}

/// One of the ten shapes, placed, rotated, scaled and coloured.
struct Shape {
    class: usize,
    cx: f32,
    cy: f32,
    radius: f32,
    cos: f32,
    sin: f32,
    colour: [f32; 3],
    /// Linear shading across the shape, in local coordinates.
    shade: [f32; 2],
}

impl Shape {
    fn random(rng: &mut SplitMix64, class: usize, bg_mean: [f32; 3]) -> Shape {
        let radius = rng.range(6.0, 13.0);
        let margin = radius * 0.75;
        let cx = rng.range(margin, SIZE as f32 - margin);
        let cy = rng.range(margin, SIZE as f32 - margin);
        let angle = rng.range(0.0, std::f32::consts::TAU);
        // A colour that stands out from the background's mean: the most distant of a few.
        let mut colour = random_colour(rng);
        let dist = |c: [f32; 3]| (0..3).map(|k| (c[k] - bg_mean[k]).powi(2)).sum::<f32>();
        for _ in 0..6 {
            let c = random_colour(rng);
            if dist(c) > dist(colour) {
                colour = c;
            }
        }
        let shade = [rng.range(-0.2, 0.2), rng.range(-0.2, 0.2)];
        Shape {
            class,
            cx,
            cy,
            radius,
            cos: angle.cos(),
            sin: angle.sin(),
            colour,
            shade,
        }
    }

    /// Whether local point (u, v) (the shape's radius is 1) is inside.
    fn inside(&self, u: f32, v: f32) -> bool {
        match self.class {
            0 => u * u + v * v <= 1.0,
            1 => u.abs().max(v.abs()) <= 0.75,
            2 => triangle(u, v),
            3 => {
                let r2 = u * u + v * v;
                (0.3..=1.0).contains(&r2)
            }
            4 => (u.abs() <= 0.3 && v.abs() <= 1.0) || (v.abs() <= 0.3 && u.abs() <= 1.0),
            5 => star(u, v),
            6 => hexagon(u, v),
            7 => u * u + (v / 0.55) * (v / 0.55) <= 1.0,
            8 => u.abs() / 0.55 + v.abs() <= 1.0,
            _ => u * u + v * v <= 1.0 && (u - 0.45) * (u - 0.45) + v * v > 0.64,
        }
    }

    fn draw(&self, img: &mut [f32; IMG]) {
        const SS: usize = 3;
        let reach = self.radius * 1.1 + 1.0;
        let x0 = (self.cx - reach).floor().max(0.0) as usize;
        let x1 = ((self.cx + reach).ceil() as usize).min(SIZE);
        let y0 = (self.cy - reach).floor().max(0.0) as usize;
        let y1 = ((self.cy + reach).ceil() as usize).min(SIZE);
        let inv = 1.0 / self.radius;
        for y in y0..y1 {
            for x in x0..x1 {
                let mut hits = 0u32;
                let (mut su, mut sv) = (0f32, 0f32);
                for sy in 0..SS {
                    for sx in 0..SS {
                        let dx = x as f32 + (sx as f32 + 0.5) / SS as f32 - self.cx;
                        let dy = y as f32 + (sy as f32 + 0.5) / SS as f32 - self.cy;
                        let u = (dx * self.cos + dy * self.sin) * inv;
                        let v = (-dx * self.sin + dy * self.cos) * inv;
                        if self.inside(u, v) {
                            hits += 1;
                            su += u;
                            sv += v;
                        }
                    }
                }
                if hits == 0 {
                    continue;
                }
                let a = hits as f32 / (SS * SS) as f32;
                let shade = 1.0 + (self.shade[0] * su + self.shade[1] * sv) / hits as f32;
                let p = y * SIZE + x;
                for ch in 0..3 {
                    let c = (self.colour[ch] * shade).clamp(0.0, 1.0);
                    let q = &mut img[ch * PIX + p];
                    *q = *q * (1.0 - a) + c * a;
                }
            }
        }
    }
}

/// Equilateral triangle with vertices on the unit circle (at -90, 30 and 150 degrees).
fn triangle(u: f32, v: f32) -> bool {
    // Edge normals at 90, -30 and 210 degrees; the apothem is 0.5.
    const C30: f32 = 0.866_025_4;
    v <= 0.5 && (C30 * u - 0.5 * v) <= 0.5 && (-C30 * u - 0.5 * v) <= 0.5
}

/// Regular hexagon of circumradius 1 (apothem 0.866).
fn hexagon(u: f32, v: f32) -> bool {
    const A: f32 = 0.866_025_4;
    v.abs() <= A && (A * u + 0.5 * v).abs() <= A && (A * u - 0.5 * v).abs() <= A
}

/// Five-pointed star: outer radius 1, inner radius 0.42.
fn star(u: f32, v: f32) -> bool {
    const SECTOR: f32 = std::f32::consts::TAU / 5.0;
    let r = (u * u + v * v).sqrt();
    if r > 1.0 {
        return false;
    }
    if r < 0.42 * 0.81 {
        return true;
    }
    // Fold the angle into [0, 36 degrees]: 0 = a point, 36 = an inner corner.
    let mut phi = v.atan2(u).rem_euclid(SECTOR);
    if phi > SECTOR / 2.0 {
        phi = SECTOR - phi;
    }
    let (qx, qy) = (r * phi.cos(), r * phi.sin());
    // Inner corner B at 36 degrees, radius 0.42; outer point A = (1, 0). Inside when q is on
    // the origin's side of the line A-B.
    let (bx, by) = (0.42 * (SECTOR / 2.0).cos(), 0.42 * (SECTOR / 2.0).sin());
    let cross = (bx - 1.0) * qy - by * (qx - 1.0);
    // The origin gives cross = by > 0.
    cross >= 0.0
}

/// A thin straight line across the image.
struct Line {
    a: [f32; 2],
    b: [f32; 2],
    half_width: f32,
    colour: [f32; 3],
}

impl Line {
    fn random(rng: &mut SplitMix64) -> Line {
        let s = SIZE as f32;
        Line {
            a: [rng.range(0.0, s), rng.range(0.0, s)],
            b: [rng.range(0.0, s), rng.range(0.0, s)],
            half_width: rng.range(0.35, 0.9),
            colour: random_colour(rng),
        }
    }

    fn draw(&self, img: &mut [f32; IMG]) {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let len2 = (dx * dx + dy * dy).max(1e-6);
        for y in 0..SIZE {
            for x in 0..SIZE {
                let (px, py) = (x as f32 + 0.5 - self.a[0], y as f32 + 0.5 - self.a[1]);
                let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
                let (ex, ey) = (px - t * dx, py - t * dy);
                let d = (ex * ex + ey * ey).sqrt();
                let a = (self.half_width + 0.5 - d).clamp(0.0, 1.0);
                if a <= 0.0 {
                    continue;
                }
                let p = y * SIZE + x;
                for ch in 0..3 {
                    let q = &mut img[ch * PIX + p];
                    *q = *q * (1.0 - a) + self.colour[ch] * a;
                }
            }
        }
    }
}

//! NAB scoring, as `nab/sweeper.py` of NAB v1.1 does it: labelled windows, the first 15% of
//! each file (at most 750 rows) unscored as probation, the earliest detection in a window
//! weighted by a scaled sigmoid of its position, each detection outside a window weighted by
//! its distance past the previous window, and the corpus total normalised so that the null
//! detector scores 0 and a perfect one 100.

use std::path::Path;

use chrono::NaiveDateTime;

pub struct Profile {
    pub name: &'static str,
    tp: f64,
    fp: f64,
    fn_: f64,
}

/// NAB's `config/profiles.json`.
pub const PROFILES: [Profile; 3] = [
    Profile { name: "standard", tp: 1.0, fp: 0.11, fn_: 1.0 },
    Profile { name: "reward_low_FP_rate", tp: 1.0, fp: 0.22, fn_: 1.0 },
    Profile { name: "reward_low_FN_rate", tp: 1.0, fp: 0.11, fn_: 2.0 },
];

pub struct File {
    /// "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv", as NAB names it.
    pub name: String,
    pub values: Vec<f64>,
    /// Inclusive row ranges of the labelled anomaly windows.
    pub windows: Vec<(usize, usize)>,
}

pub fn load(nab: &Path, category: &str) -> Vec<File> {
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(nab.join("labels/combined_windows.json")).unwrap()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(nab.join(category))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let name = format!("{category}/{n}");
            let text = std::fs::read_to_string(nab.join(&name)).unwrap();
            let (timestamps, values): (Vec<NaiveDateTime>, Vec<f64>) = text
                .lines()
                .skip(1)
                .map(|l| {
                    let (t, v) = l.split_once(',').unwrap();
                    (time(t), v.trim().parse::<f64>().unwrap())
                })
                .unzip();
            let row = |t: &serde_json::Value| {
                let t = time(t.as_str().unwrap());
                timestamps.iter().position(|x| *x == t).unwrap_or_else(|| panic!("{name}: no row at {t}"))
            };
            let windows = labels[&name].as_array().unwrap().iter().map(|w| (row(&w[0]), row(&w[1]))).collect();
            File { name, values, windows }
        })
        .collect()
}

fn time(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn scaled_sigmoid(position: f64) -> f64 {
    if position >= 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

pub struct FileScore {
    pub score: f64,
    /// Windows with at least one scored row: each counts −fn for the null detector, +tp for a
    /// perfect one.
    pub windows: usize,
}

/// `detections[i]`: the detector raised an alert at row i.
pub fn score(file: &File, detections: &[bool], p: &Profile) -> FileScore {
    assert_eq!(detections.len(), file.values.len());
    let n = file.values.len();
    let probation = (0.15 * n as f64).floor().min(0.15 * 5000.0);
    let max_tp = scaled_sigmoid(-1.0);
    let mut best: Vec<Option<f64>> = vec![None; file.windows.len()];
    let mut fp = 0.0;
    let mut previous: Option<(usize, usize)> = None; // (right edge, width) of the last window passed
    let mut next = 0;
    let mut current: Option<usize> = None;
    for (i, &detected) in detections.iter().enumerate() {
        if current.is_none() && next < file.windows.len() && file.windows[next].0 == i {
            current = Some(next);
            next += 1;
        }
        let scored = i as f64 >= probation;
        match current {
            Some(w) => {
                let (left, right) = file.windows[w];
                let width = (right - left + 1) as f64;
                let s = scaled_sigmoid(-((right - i + 1) as f64) / width) * p.tp / max_tp;
                if scored {
                    let b = best[w].get_or_insert(-p.fn_);
                    if detected {
                        *b = b.max(s);
                    }
                }
                if i == right {
                    previous = Some((right, right - left + 1));
                    current = None;
                }
            }
            None if scored && detected => {
                let position = previous.map_or(3.0, |(r, w)| (i - r) as f64 / (w - 1) as f64);
                fp += scaled_sigmoid(position) * p.fp;
            }
            None => {}
        }
    }
    let windows: Vec<f64> = best.into_iter().flatten().collect();
    FileScore { score: fp + windows.iter().sum::<f64>(), windows: windows.len() }
}

/// 0 = the null detector, 100 = every window caught at its left edge and nothing else.
pub fn normalised(raw: f64, windows: usize, p: &Profile) -> f64 {
    let null = -p.fn_ * windows as f64;
    let perfect = p.tp * windows as f64;
    100.0 * (raw - null) / (perfect - null)
}

/// NAB's published per-file score of `detector` for `file` under profile `p`.
pub fn published(nab: &Path, detector: &str, p: &Profile, file: &str) -> Option<f64> {
    let path = nab.join(format!("results/{detector}/{detector}_{}_scores.csv", p.name));
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        (f.get(2) == Some(&file)).then(|| f.get(4)?.parse().ok()).flatten()
    })
}

/// numpy's float64 `add.reduce` on a contiguous array: the first element, plus the rest summed
/// pairwise in blocks of 128 with 8 accumulators. Matching it keeps the gaussian reference
/// detector's thresholding identical to NAB's run, bit for bit in all but freak cases.
fn numpy_sum(a: &[f64]) -> f64 {
    fn pairwise(a: &[f64]) -> f64 {
        let n = a.len();
        if n < 8 {
            a.iter().fold(0.0, |s, x| s + x)
        } else if n <= 128 {
            let mut r = [0.0; 8];
            r.copy_from_slice(&a[..8]);
            let mut i = 8;
            while i < n - n % 8 {
                for (r, x) in r.iter_mut().zip(&a[i..i + 8]) {
                    *r += x;
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for x in &a[i..] {
                res += x;
            }
            res
        } else {
            let mut n2 = n / 2;
            n2 -= n2 % 8;
            pairwise(&a[..n2]) + pairwise(&a[n2..])
        }
    }
    match a.split_first() {
        Some((first, rest)) => first + pairwise(rest),
        None => 0.0,
    }
}

/// NAB's optimised threshold for windowedGaussian: an anomaly score from its run, printed as "1.0"
/// in the published CSVs by Python 2's 12-significant-digit `str`. Every value in
/// (0.99999999999942, 0.99999999999953] reproduces all 17 AWS files' TP/FP counts; 1.0 itself
/// reproduces only 8.
pub const GAUSSIAN_THRESHOLD: f64 = 1.0 - 5e-13;

/// NAB's `windowedGaussian` detector (window 6400, step 100), the reference that checks this
/// scorer against NAB's published per-file results: anomaly score 1 − Q(z) of each value
/// against the mean and standard deviation of the window before it.
pub fn windowed_gaussian(values: &[f64], threshold: f64) -> Vec<bool> {
    let (size, step) = (6400, 100);
    let mut window: Vec<f64> = Vec::new();
    let mut buffer: Vec<f64> = Vec::new();
    let (mut mean, mut std) = (0.0, 1.0);
    let update = |w: &[f64]| {
        let n = w.len() as f64;
        let m = numpy_sum(w) / n;
        let sq: Vec<f64> = w.iter().map(|x| (x - m) * (x - m)).collect();
        let s = (numpy_sum(&sq) / n).sqrt();
        (m, if s == 0.0 { 0.000001 } else { s })
    };
    values
        .iter()
        .map(|&x| {
            let score = if window.is_empty() {
                0.0
            } else {
                let xp = if x < mean { 2.0 * mean - x } else { x };
                1.0 - 0.5 * libm::erfc((xp - mean) / std / std::f64::consts::SQRT_2)
            };
            if window.len() < size {
                window.push(x);
                (mean, std) = update(&window);
            } else {
                buffer.push(x);
                if buffer.len() == step {
                    window.drain(..step);
                    window.append(&mut buffer);
                    (mean, std) = update(&window);
                }
            }
            score >= threshold
        })
        .collect()
}

use serde::Deserialize;

use super::validate::Validator;

/// `[digest]`: each team's weekly digest, on a day and hour of a time zone (IANA).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Digest {
    pub enabled: bool,
    /// "Monday" or "Mon" (any case).
    pub weekday: String,
    /// The local hour it is due from, 0 to 23.
    pub hour: u32,
    /// An IANA zone: "Asia/Tokyo", "Europe/Berlin", "UTC".
    pub timezone: String,
}

impl Default for Digest {
    fn default() -> Self {
        Digest { enabled: true, weekday: "Monday".into(), hour: 9, timezone: "UTC".into() }
    }
}

impl Digest {
    pub fn weekday(&self) -> chrono::Weekday {
        self.weekday.parse().unwrap_or(chrono::Weekday::Mon)
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    pub(super) fn validate(&self, v: &mut Validator) {
        v.check(
            "digest.weekday",
            self.weekday.parse::<chrono::Weekday>().is_ok(),
            "must be a day of the week: Monday ... Sunday, or Mon ... Sun",
        );
        v.check("digest.hour", self.hour <= 23, "must be 0 to 23 (the local hour)");
        v.check(
            "digest.timezone",
            self.timezone.parse::<chrono_tz::Tz>().is_ok(),
            "must be an IANA time zone, e.g. \"Asia/Tokyo\", \"Europe/Berlin\", \"UTC\"",
        );
    }
}

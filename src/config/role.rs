//! An IAM role a source's client assumes: Cost Explorer usually answers only in the management
//! (payer) account, while the scanner's ECS, GuardDuty and the metrics live in another.

use serde::Deserialize;

use super::validate::Validator;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// `arn:aws:iam::<account>:role/<name>`.
    pub arn: String,
    /// The external ID the role's trust policy requires, if any.
    pub external_id: Option<String>,
    /// Shown in CloudTrail; default `costwarden-<section>`.
    pub session_name: Option<String>,
}

impl Role {
    pub(super) fn check(role: &Option<Role>, section: &str, v: &mut Validator) {
        let Some(r) = role else { return };
        let path = format!("{section}.role.arn");
        let account = r.arn.split(':').nth(4).unwrap_or("");
        let ok = r.arn.starts_with("arn:aws")
            && r.arn.split(':').nth(2) == Some("iam")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && r.arn.split(':').nth(5).is_some_and(|res| res.starts_with("role/") && res.len() > 5);
        v.check(&path, ok, "must be an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>");
        if let Some(name) = &r.session_name {
            let ok = (2..=64).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"=,.@-_".contains(&b));
            v.check(&format!("{section}.role.session_name"), ok, "must be 2-64 of A-Z a-z 0-9 =,.@-_");
        }
    }

    pub fn session(&self, section: &str) -> String {
        self.session_name.clone().unwrap_or_else(|| format!("costwarden-{section}"))
    }
}

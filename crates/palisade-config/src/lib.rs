//! Configuration in two stages: [`raw`] parses the TOML file strictly (unknown keys are
//! errors that name the key), [`validate`] expands `${ENV}` references and checks every
//! cross-reference, producing the runtime [`Config`] the rest of Palisade uses.
//! [`defaults`] holds every default in one place and the documented default file.

pub mod access;
pub mod audit;
pub mod defaults;
pub mod env;
pub mod raw;
pub mod scan;
pub mod validate;

pub use access::{FailMode, LimitRuleConfig, LimitsBackend, LimitsConfig, PolicyConfig};
pub use audit::{
    AuditConfig, AuditDurability, AuditSync, CaptureMode, CaptureRule, EndUserScope,
    MasterKeySource,
};
pub use scan::{ScanConfig, ScanProfileConfig, ScanRule};
pub use validate::{
    AnthropicSettings, Config, ConfigError, KeyHeader, LogFormat, ModelConfig, OpenAiSettings,
    ProviderConfig, ProviderKind, ServerConfig, SimulatedSettings, StoreConfig, TlsFiles,
    TokenEncoding, load_audit_origin, load_file, load_scan_section, load_store_url, parse_str,
};

//! What the commands that open the store share: `--db`, `--tenant`, the runtime.

use std::io::IsTerminal as _;

use anyhow::{Context, Result, bail};
use perfstore::{DEFAULT_TENANT, Store, Tenant};

/// Where the store is.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Database URL: `postgres://user@host/db`, `sqlite://PATH` or a file path.
    /// Default: $PERFAN_DB, else `$XDG_DATA_HOME/perfanalysis/perfanalysis.db`
    /// (`~/.local/share/...` without XDG_DATA_HOME).
    #[arg(long, value_name = "URL", env = perfstore::DB_ENV, global = true, hide_env_values = true)]
    pub db: Option<String>,
}

/// Which tenant.
#[derive(Debug, Clone, clap::Args)]
pub struct TenantArg {
    /// Tenant name. `default` is created on first use; other tenants must exist
    /// (`perfan admin tenant create NAME`).
    #[arg(long, value_name = "NAME", env = "PERFAN_TENANT", default_value = DEFAULT_TENANT)]
    pub tenant: String,
}

/// A runtime for the store's async API (the CLI itself is synchronous).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Opens the store (migrating it if needed).
pub async fn open(db: &DbArgs) -> Result<Store> {
    let url = perfstore::resolve_url(db.db.as_deref())?;
    Store::open(&url)
        .await
        .with_context(|| format!("opening {}", perfstore::redact_url(&url)))
}

/// The named tenant; `default` is created when missing, others must exist.
pub async fn tenant(store: &Store, name: &str) -> Result<Tenant> {
    if name == DEFAULT_TENANT {
        return Ok(store.tenant_by_name_or_create(name).await?);
    }
    match store.tenant_by_name(name).await? {
        Some(t) => Ok(t),
        None => bail!("no tenant {name:?} (create it with: perfan admin tenant create {name})"),
    }
}

/// Who is acting, for the audit log: `cli:<user>`.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// True when progress bars may be drawn (stderr is a terminal).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// Formats ms since the epoch for tables.
pub fn time(ms: Option<i64>) -> String {
    ms.map(perfcore::time::format_rfc3339_ms)
        .unwrap_or_else(|| "-".into())
}

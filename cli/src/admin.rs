//! `perfan admin`: tenants, users, machines, API keys, retention, compaction.

use std::io::{BufRead as _, Write as _};

use anyhow::{Context, Result, bail};
use perfcore::metrics::MachineFacts;
use perfstore::{KeyId, Labels, Role, Store};
use serde_json::json;

use crate::db::{self, DbArgs, TenantArg};

/// Arguments of `perfan admin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Tenants: create, list.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Users of a tenant: create, list.
    #[command(subcommand)]
    User(UserCmd),
    /// Machines of a tenant: list.
    #[command(subcommand)]
    Machine(MachineCmd),
    /// API keys of a tenant: create, list, revoke.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Data retention of a tenant: set the policy, apply it.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Compact a tenant's rows into the sorted blocks summaries read (run it after an
    /// import and from a daily timer; a short last block is rebuilt with newer rows).
    Compact {
        #[command(flatten)]
        tenant: TenantArg,
        /// Only this machine (its id string).
        #[arg(long, value_name = "MACHINE")]
        machine: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TenantCmd {
    /// Create a tenant.
    Create {
        /// Its unique name.
        name: String,
    },
    /// List tenants.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, clap::Subcommand)]
enum UserCmd {
    /// Create a user; the password is read from the first line of standard input.
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        /// admin, analyst or viewer.
        #[arg(long, value_parser = ["admin", "analyst", "viewer"])]
        role: String,
        /// Read the password from standard input (required: passwords are never
        /// taken from the command line, where other users could see them).
        #[arg(long)]
        password_stdin: bool,
        /// The user's e-mail address.
        email: String,
    },
    /// List users.
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, clap::Subcommand)]
enum MachineCmd {
    /// List machines with their last data.
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, clap::Subcommand)]
enum KeyCmd {
    /// Create a key and print it (alone on stdout; it is not shown again).
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        /// Limit the key to this machine (its id string; registered if new).
        #[arg(long, value_name = "MACHINE")]
        machine: Option<String>,
        /// A label to recognise the key by.
        #[arg(long, value_name = "LABEL", default_value = "")]
        name: String,
        /// `text`: the key alone; `json`: {"key", "prefix", "id"}.
        #[arg(long, value_enum, default_value_t = KeyFormat::Text)]
        format: KeyFormat,
    },
    /// List keys (prefixes only; secrets are never stored).
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a key by id.
    Revoke {
        #[command(flatten)]
        tenant: TenantArg,
        /// The key's id (`perfan admin key list`).
        id: i64,
    },
}

#[derive(Debug, clap::Subcommand)]
enum RetentionCmd {
    /// Keep DAYS days of data (`--days 0` keeps everything).
    Set {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        days: u32,
    },
    /// Delete data older than DAYS days now (default: the tenant's policy).
    Apply {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        days: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Aligned columns.
    Table,
    /// A JSON array.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KeyFormat {
    /// The key alone.
    Text,
    /// {"key": ..., "prefix": ..., "id": ...}
    Json,
}

pub fn run(args: Args) -> Result<()> {
    let rt = db::runtime()?;
    rt.block_on(async {
        let store = db::open(&args.db).await?;
        let r = dispatch(&store, args.what).await;
        store.close().await;
        r
    })
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).context("writing JSON")?;
    writeln!(out)?;
    Ok(())
}

fn print_table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        l.trim_end().to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

async fn dispatch(store: &Store, what: What) -> Result<()> {
    let actor = db::actor();
    match what {
        What::Tenant(TenantCmd::Create { name }) => {
            let t = store.create_tenant(&name).await?;
            store
                .audit(t.id, &actor, "tenant.create", &json!({ "name": name }))
                .await?;
            eprintln!("perfan: created tenant {:?} (id {})", t.name, t.id);
        }
        What::Tenant(TenantCmd::List { format }) => {
            let ts = store.list_tenants().await?;
            match format {
                Format::Json => print_json(&ts)?,
                Format::Table => print_table(
                    &["ID", "NAME", "RETENTION", "CREATED"],
                    &ts.iter()
                        .map(|t| {
                            vec![
                                t.id.to_string(),
                                t.name.clone(),
                                t.retention_days
                                    .map(|d| format!("{d} days"))
                                    .unwrap_or_else(|| "keep all".into()),
                                db::time(Some(t.created_ms)),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )?,
            }
        }
        What::User(UserCmd::Create {
            tenant,
            role,
            password_stdin,
            email,
        }) => {
            if !password_stdin {
                bail!(
                    "a password is required: pass --password-stdin and write it to standard input"
                );
            }
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                bail!("empty password on standard input");
            }
            let t = db::tenant(store, &tenant.tenant).await?;
            let u = store
                .create_user(t.id, &email, password, Role::from_name(&role)?)
                .await?;
            store
                .audit(
                    t.id,
                    &actor,
                    "user.create",
                    &json!({ "user_id": u.id, "email": u.email, "role": u.role }),
                )
                .await?;
            eprintln!(
                "perfan: created user {} ({}) in tenant {:?}",
                u.email, u.role, t.name
            );
        }
        What::User(UserCmd::List { tenant, format }) => {
            let t = db::tenant(store, &tenant.tenant).await?;
            let us = store.list_users(t.id).await?;
            match format {
                Format::Json => print_json(&us)?,
                Format::Table => print_table(
                    &["ID", "EMAIL", "ROLE", "CREATED"],
                    &us.iter()
                        .map(|u| {
                            vec![
                                u.id.to_string(),
                                u.email.clone(),
                                u.role.to_string(),
                                db::time(Some(u.created_ms)),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )?,
            }
        }
        What::Machine(MachineCmd::List { tenant, format }) => {
            let t = db::tenant(store, &tenant.tenant).await?;
            let ms = store.list_machines(t.id).await?;
            match format {
                Format::Json => print_json(&ms)?,
                Format::Table => print_table(
                    &["ID", "MACHINE", "HOSTNAME", "CPUS", "LAST DATA"],
                    &ms.iter()
                        .map(|m| {
                            vec![
                                m.id.to_string(),
                                m.machine_key.clone(),
                                m.hostname.clone().unwrap_or_else(|| "-".into()),
                                m.facts
                                    .cpu_count
                                    .map(|c| c.to_string())
                                    .unwrap_or_else(|| "-".into()),
                                db::time(m.last_seen_ms),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )?,
            }
        }
        What::Key(KeyCmd::Create {
            tenant,
            machine,
            name,
            format,
        }) => {
            let t = db::tenant(store, &tenant.tenant).await?;
            let machine_id = match &machine {
                Some(key) => Some(
                    store
                        .upsert_machine(t.id, key, None, &Labels::new(), &MachineFacts::default())
                        .await?
                        .id,
                ),
                None => None,
            };
            let k = store.create_key(t.id, machine_id, &name).await?;
            store
                .audit(
                    t.id,
                    &actor,
                    "key.create",
                    &json!({ "key_id": k.id, "prefix": k.prefix, "label": name, "machine": machine }),
                )
                .await?;
            let mut out = std::io::stdout().lock();
            match format {
                KeyFormat::Text => writeln!(out, "{}", k.secret)?,
                KeyFormat::Json => {
                    serde_json::to_writer(
                        &mut out,
                        &json!({ "key": k.secret, "prefix": k.prefix, "id": k.id }),
                    )?;
                    writeln!(out)?;
                }
            }
            eprintln!(
                "perfan: created key {} ({}) in tenant {:?}{}; it is not stored and will not be shown again",
                k.id,
                k.prefix,
                t.name,
                machine
                    .map(|m| format!(", limited to machine {m:?}"))
                    .unwrap_or_default()
            );
        }
        What::Key(KeyCmd::List { tenant, format }) => {
            let t = db::tenant(store, &tenant.tenant).await?;
            let ks = store.list_keys(t.id).await?;
            let machines = store.list_machines(t.id).await?;
            let machine_name = |id: Option<perfstore::MachineId>| match id {
                None => "(any)".to_owned(),
                Some(id) => machines
                    .iter()
                    .find(|m| m.id == id)
                    .map(|m| m.machine_key.clone())
                    .unwrap_or_else(|| id.to_string()),
            };
            match format {
                Format::Json => print_json(&ks)?,
                Format::Table => print_table(
                    &[
                        "ID",
                        "PREFIX",
                        "NAME",
                        "MACHINE",
                        "CREATED",
                        "LAST USED",
                        "STATUS",
                    ],
                    &ks.iter()
                        .map(|k| {
                            vec![
                                k.id.to_string(),
                                k.prefix.clone(),
                                if k.label.is_empty() {
                                    "-".into()
                                } else {
                                    k.label.clone()
                                },
                                machine_name(k.machine),
                                db::time(Some(k.created_ms)),
                                db::time(k.last_used_ms),
                                match k.revoked_ms {
                                    Some(at) => format!("revoked {}", db::time(Some(at))),
                                    None => "active".into(),
                                },
                            ]
                        })
                        .collect::<Vec<_>>(),
                )?,
            }
        }
        What::Key(KeyCmd::Revoke { tenant, id }) => {
            let t = db::tenant(store, &tenant.tenant).await?;
            if !store.revoke_key(t.id, KeyId(id)).await? {
                bail!("no active key {id} in tenant {:?}", t.name);
            }
            store
                .audit(t.id, &actor, "key.revoke", &json!({ "key_id": id }))
                .await?;
            eprintln!("perfan: revoked key {id}");
        }
        What::Retention(RetentionCmd::Set { tenant, days }) => {
            let t = db::tenant(store, &tenant.tenant).await?;
            let days = (days > 0).then_some(days);
            store.set_retention(t.id, days).await?;
            store
                .audit(t.id, &actor, "retention.set", &json!({ "days": days }))
                .await?;
            match days {
                Some(d) => eprintln!("perfan: tenant {:?} keeps {d} days of data", t.name),
                None => eprintln!("perfan: tenant {:?} keeps all data", t.name),
            }
        }
        What::Compact { tenant, machine } => {
            let t = db::tenant(store, &tenant.tenant).await?;
            let r = match machine {
                None => store.compact_tenant(t.id).await?,
                Some(key) => {
                    let m = store
                        .list_machines(t.id)
                        .await?
                        .into_iter()
                        .find(|m| m.machine_key == key)
                        .with_context(|| format!("no machine {key:?} in tenant {:?}", t.name))?;
                    store.compact(t.id, m.id).await?
                }
            };
            eprintln!("perfan: compacted {} rows into {} blocks", r.rows, r.blocks);
        }
        What::Retention(RetentionCmd::Apply { tenant, days }) => {
            let t = db::tenant(store, &tenant.tenant).await?;
            let Some(days) = days.or(t.retention_days) else {
                bail!(
                    "tenant {:?} has no retention policy: pass --days or set one with `perfan admin retention set`",
                    t.name
                );
            };
            let r = store.apply_retention(t.id, days).await?;
            store
                .audit(
                    t.id,
                    &actor,
                    "retention.apply",
                    &json!({ "days": days, "rows_deleted": r.rows_deleted, "device_values_deleted": r.device_values_deleted }),
                )
                .await?;
            eprintln!(
                "perfan: deleted {} rows and {} device values older than {days} days",
                r.rows_deleted, r.device_values_deleted
            );
        }
    }
    Ok(())
}

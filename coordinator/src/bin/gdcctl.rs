//! `gdcctl`: the operator's tool. It talks to the coordinators' admin API; tables for
//! people, `--json` for scripts.

use clap::{Parser, Subcommand};
use gdc_coordinator::client::AdminClient;
use gdc_coordinator::tools::{acl, status};
use gdc_coordinator::topology::{Change, ChannelState, Topology};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "gdcctl",
    version,
    about = "Operate a gdc cluster through its coordinators"
)]
struct Flags {
    /// Coordinator addresses, HOST:PORT,... (any of them; the leader is found).
    #[arg(long, env = "GDC_COORDINATOR", value_delimiter = ',', global = true)]
    coordinator: Vec<String>,
    /// The cluster token (`gdcctl demo` makes its cluster with gdc-demo-token unless given).
    #[arg(long, env = "GDC_CLUSTER_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// TLS to the coordinators: the CA that signs their certificates.
    #[arg(long, env = "GDC_TLS_CA", global = true)]
    tls_ca: Option<std::path::PathBuf>,
    /// TLS: gdcctl's own certificate, for coordinators that require one (with --tls-key).
    #[arg(long, env = "GDC_TLS_CERT", global = true)]
    tls_cert: Option<std::path::PathBuf>,
    #[arg(long, env = "GDC_TLS_KEY", global = true)]
    tls_key: Option<std::path::PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Distributed instances.
    Instance {
        #[command(subcommand)]
        op: InstanceOp,
    },
    /// Child instances: an instance's regions.
    Child {
        #[command(subcommand)]
        op: ChildOp,
    },
    /// Channels between an instance's regions.
    Channel {
        #[command(subcommand)]
        op: ChannelOp,
    },
    /// Nodes of regions.
    Node {
        #[command(subcommand)]
        op: NodeOp,
    },
    /// An instance's ACL users: one set for all its nodes, which take each new version
    /// from their assignment.
    Acl {
        #[command(subcommand)]
        op: AclOp,
    },
    /// The coordinator cluster's members.
    Member {
        #[command(subcommand)]
        op: MemberOp,
    },
    /// Instances, regions, nodes and channels at a glance: the topology, and what each node
    /// says (up or down, its role and epoch, how far behind its channels are).
    Status {
        instance: Option<String>,
        /// The nodes' requirepass, if they have one.
        #[arg(long, env = "GDC_REQUIREPASS", hide_env_values = true)]
        password: Option<String>,
    },
    /// Compare every region's digests (GDC.DIGEST at each primary): equal, or which
    /// databases differ. Exits with status 1 unless all are equal.
    Verify {
        instance: Option<String>,
        /// The nodes' requirepass, if they have one.
        #[arg(long, env = "GDC_REQUIREPASS", hide_env_values = true)]
        password: Option<String>,
    },
    /// A planned switchover: REGION's primary stops taking writes, a secondary (--to, or
    /// the one that has applied the most) catches up with it and becomes the primary. No
    /// write is lost; writes are refused meanwhile. Called off (the old primary takes
    /// writes again) if it cannot finish within --timeout-ms.
    Failover {
        instance: String,
        region: String,
        /// The secondary to promote (its address, as `status` lists it).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        /// The nodes' requirepass, if they have one.
        #[arg(long, env = "GDC_REQUIREPASS", hide_env_values = true)]
        password: Option<String>,
    },
    /// Run a whole gdc on this machine: a coordinator (or 3 or 5) and N regions (a primary
    /// and M secondaries each) as child processes on 127.0.0.1, until Ctrl-C.
    ///
    /// Of the options every gdcctl command takes, only --token applies (default
    /// gdc-demo-token); --coordinator, --tls-* and --json do not: the demo starts its own
    /// coordinators, without TLS.
    Demo {
        /// Regions, named r1, r2, ...: each an independent child instance with its own
        /// primary, channels both ways with every other region.
        #[arg(long, default_value_t = 3)]
        regions: usize,
        /// Secondaries per region.
        #[arg(long, default_value_t = 1)]
        secondaries: usize,
        /// Coordinators: 1, or 3 or 5 (one Raft cluster; a majority must be up).
        #[arg(long, default_value_t = 1)]
        coordinators: usize,
        /// Data, logs and endpoints.json [default: a temporary directory, removed at the
        /// end].
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Nodes' client ports count up from here; sync ports are +100, metrics +200, the
        /// coordinators +300, +302, ... and their Sentinel ports one above.
        #[arg(long, default_value_t = 7001)]
        base_port: u16,
        /// The name of the distributed instance the regions form (gdcctl status shows it).
        #[arg(long, default_value = "demo")]
        instance: String,
        /// Don't `cargo build` gdc-node and gdc-coordinator first (when run by cargo).
        #[arg(long)]
        no_build: bool,
    },
}

#[derive(Subcommand, Debug)]
enum InstanceOp {
    Create {
        name: String,
    },
    List,
    /// Delete an instance that has no regions left.
    Delete {
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum ChildOp {
    /// Add a region; channels both ways with every other region unless --no-mesh.
    Add {
        instance: String,
        region: String,
        #[arg(long)]
        no_mesh: bool,
    },
    /// Remove a region and its channels.
    Remove { instance: String, region: String },
    /// A gdc-node that has run on its own (serving a sync port, with this cluster token)
    /// joins the instance as REGION's primary, with its data, without a restart: the region
    /// is added (channels both ways with every other region unless --no-mesh), the node
    /// follows the coordinators from then on, and its data and the others' merge.
    Attach {
        instance: String,
        region: String,
        /// The node's client address, HOST:PORT.
        node: String,
        #[arg(long)]
        no_mesh: bool,
        /// The node's requirepass, if it has one.
        #[arg(long, env = "GDC_REQUIREPASS", hide_env_values = true)]
        password: Option<String>,
        /// How long to wait for the node to become the region's primary.
        #[arg(long, default_value_t = 10000)]
        timeout_ms: u64,
    },
}

#[derive(Subcommand, Debug)]
enum ChannelOp {
    /// A one-way channel: writes made in FROM reach TO.
    Create {
        instance: String,
        from: String,
        to: String,
    },
    Pause {
        instance: String,
        from: String,
        to: String,
    },
    Resume {
        instance: String,
        from: String,
        to: String,
    },
    Delete {
        instance: String,
        from: String,
        to: String,
    },
    List {
        instance: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum NodeOp {
    /// A secondary leaves its region for good (its address, as `status` lists it): the
    /// others stop keeping binlog for it. A primary must be failed over first.
    Remove { addr: String },
}

#[derive(Subcommand, Debug)]
enum AclOp {
    /// The instance's ACL version (0: never set) and its users, one ACL LIST line each.
    List {
        /// The distributed instance.
        #[arg(long)]
        instance: String,
    },
    /// Set the instance's users from an ACL file (lines `user <name> <rules>...`; blank
    /// lines and `#` comments skipped). Refused if the ACL changed between reading its
    /// version and setting it: run it again.
    Load {
        /// The distributed instance.
        #[arg(long)]
        instance: String,
        /// The ACL file (as redis.conf's `aclfile`, or ACL SAVE, writes one).
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum MemberOp {
    List,
    /// Add a running coordinator (started without --initial-cluster) as a voter.
    Add {
        id: u64,
        addr: String,
    },
    Remove {
        id: u64,
    },
}

/// The demo's cluster token when none is given: it only guards 127.0.0.1.
const DEMO_TOKEN: &str = "gdc-demo-token";

fn main() -> ExitCode {
    let flags = Flags::parse();
    if let Command::Demo {
        regions,
        secondaries,
        coordinators,
        dir,
        base_port,
        instance,
        no_build,
    } = flags.command
    {
        let options = gdc_coordinator::tools::demo::Options {
            regions,
            secondaries,
            coordinators,
            dir,
            base_port,
            instance,
            token: flags.token.unwrap_or_else(|| DEMO_TOKEN.to_string()),
            no_build,
        };
        return match gdc_coordinator::tools::demo::run(options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gdcctl demo: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gdcctl: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(flags)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gdcctl: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(flags: Flags) -> Result<String, String> {
    let token = flags
        .token
        .ok_or("no cluster token: give --token or set GDC_CLUSTER_TOKEN")?;
    let tls = gdc_proto::tls::ClientTls::read(
        flags.tls_ca.as_deref(),
        flags.tls_cert.as_deref(),
        flags.tls_key.as_deref(),
    )?;
    let client = AdminClient::new(flags.coordinator, &token)
        .map_err(|e| format!("{e}: give --coordinator HOST:PORT or set GDC_COORDINATOR"))?
        .with_tls(tls);
    let json = flags.json;
    let change = |c: Change| {
        let client = client.clone();
        async move {
            let index = client.change(&c).await?;
            Ok::<_, String>(if json {
                format!("{}\n", serde_json::json!({ "ok": true, "index": index }))
            } else {
                "OK\n".to_string()
            })
        }
    };
    let channel =
        |instance: String, from: String, to: String, state: ChannelState| Change::SetChannel {
            instance,
            from,
            to,
            state,
        };
    match flags.command {
        Command::Instance { op } => match op {
            InstanceOp::Create { name } => change(Change::CreateInstance { name }).await,
            InstanceOp::Delete { name } => change(Change::DeleteInstance { name }).await,
            InstanceOp::List => {
                let (t, _) = client.topology().await?;
                if json {
                    let names: Vec<&String> = t.instances.keys().collect();
                    return Ok(format!("{}\n", serde_json::json!(names)));
                }
                let rows = t
                    .instances
                    .iter()
                    .map(|(name, i)| {
                        vec![
                            name.clone(),
                            i.children.keys().cloned().collect::<Vec<_>>().join(","),
                            i.channels.len().to_string(),
                        ]
                    })
                    .collect();
                Ok(status::table(&["INSTANCE", "REGIONS", "CHANNELS"], rows))
            }
        },
        Command::Child { op } => match op {
            ChildOp::Add {
                instance,
                region,
                no_mesh,
            } => {
                change(Change::AddChild {
                    instance,
                    region,
                    mesh: !no_mesh,
                })
                .await
            }
            ChildOp::Remove { instance, region } => {
                change(Change::RemoveChild { instance, region }).await
            }
            ChildOp::Attach {
                instance,
                region,
                node,
                no_mesh,
                password,
                timeout_ms,
            } => {
                let done = gdc_coordinator::tools::attach::attach(
                    &client,
                    &token,
                    (&instance, &region),
                    &node,
                    !no_mesh,
                    password.as_deref(),
                    std::time::Duration::from_millis(timeout_ms),
                )
                .await?;
                Ok(if json {
                    format!("{}\n", serde_json::json!(done))
                } else {
                    format!(
                        "{} is region {}'s primary at epoch {} in instance {}{}\n",
                        done.node,
                        done.region,
                        done.epoch,
                        done.instance,
                        if done.region_added {
                            " (region added)"
                        } else {
                            ""
                        }
                    )
                })
            }
        },
        Command::Channel { op } => match op {
            ChannelOp::Create { instance, from, to } => {
                change(Change::CreateChannel { instance, from, to }).await
            }
            ChannelOp::Pause { instance, from, to } => {
                change(channel(instance, from, to, ChannelState::Paused)).await
            }
            ChannelOp::Resume { instance, from, to } => {
                change(channel(instance, from, to, ChannelState::Running)).await
            }
            ChannelOp::Delete { instance, from, to } => {
                change(Change::DeleteChannel { instance, from, to }).await
            }
            ChannelOp::List { instance } => {
                let (t, _) = client.topology().await?;
                channels(&t, instance.as_deref(), json)
            }
        },
        Command::Node {
            op: NodeOp::Remove { addr },
        } => change(Change::RemoveNode { addr }).await,
        Command::Acl { op } => match op {
            AclOp::List { instance } => {
                let record = acl::list(&client, &instance).await?;
                Ok(acl::show_record(&instance, &record, json))
            }
            AclOp::Load { instance, file } => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                let lines = acl::read_file(&file.display().to_string(), &text)?;
                let loaded = acl::load(&client, &instance, lines).await?;
                Ok(acl::show_loaded(&loaded, json))
            }
        },
        Command::Member { op } => {
            let reply = match op {
                MemberOp::List => client.members().await?,
                MemberOp::Add { id, addr } => client.add_member(id, &addr).await?,
                MemberOp::Remove { id } => client.remove_member(id).await?,
            };
            if json {
                let members: Vec<_> = reply
                    .members
                    .iter()
                    .map(|m| serde_json::json!({"id": m.id, "addr": m.addr, "voter": m.voter, "leader": m.id == reply.leader}))
                    .collect();
                return Ok(format!(
                    "{}\n",
                    serde_json::json!({"members": members, "leader": reply.leader, "term": reply.term, "applied": reply.applied})
                ));
            }
            let rows = reply
                .members
                .iter()
                .map(|m| {
                    let role = if m.id == reply.leader {
                        "leader"
                    } else if m.voter {
                        "follower"
                    } else {
                        "learner"
                    };
                    vec![m.id.to_string(), m.addr.clone(), role.to_string()]
                })
                .collect();
            Ok(format!(
                "{}term {}, applied index {}\n",
                status::table(&["ID", "ADDRESS", "ROLE"], rows),
                reply.term,
                reply.applied
            ))
        }
        Command::Verify { instance, password } => {
            let (t, _) = client.topology().await?;
            if let Some(name) = &instance {
                if !t.instances.contains_key(name) {
                    return Err(format!("no instance '{name}'"));
                }
            }
            let verdicts = gdc_coordinator::tools::verify::verify(
                &t,
                instance.as_deref(),
                password.as_deref(),
            );
            let all_equal = verdicts.iter().all(|v| v.equal);
            let out = if json {
                format!("{}\n", serde_json::json!(verdicts))
            } else {
                let rows = verdicts
                    .iter()
                    .flat_map(|v| {
                        v.regions.iter().map(move |r| {
                            let state = match &r.digests {
                                Err(e) => format!("unreachable: {e}"),
                                Ok(_) if v.differing_databases.is_empty() => "equal".into(),
                                Ok(_) => format!(
                                    "databases differ: {}",
                                    v.differing_databases
                                        .iter()
                                        .map(|d| d.to_string())
                                        .collect::<Vec<_>>()
                                        .join(",")
                                ),
                            };
                            vec![
                                v.instance.clone(),
                                r.region.clone(),
                                r.primary.clone(),
                                state,
                            ]
                        })
                    })
                    .collect();
                let mut out = status::table(&["INSTANCE", "REGION", "PRIMARY", "DIGESTS"], rows);
                for v in &verdicts {
                    for d in &v.differences {
                        out.push_str(&format!(
                            "{} database {} bucket {}: {}\n",
                            v.instance,
                            d.database,
                            d.bucket,
                            d.keys.join(" ")
                        ));
                    }
                }
                out
            };
            if all_equal {
                Ok(out)
            } else {
                Err(format!("regions differ\n{out}"))
            }
        }
        Command::Failover {
            instance,
            region,
            to,
            timeout_ms,
            password,
        } => {
            let done = gdc_coordinator::tools::switchover::switchover(
                &client,
                &instance,
                &region,
                to.as_deref(),
                std::time::Duration::from_millis(timeout_ms),
                password.as_deref(),
            )
            .await?;
            Ok(if json {
                format!("{}\n", serde_json::json!(done))
            } else {
                format!(
                    "{} is region {}'s primary at epoch {} ({} is its secondary; writes were refused for {} ms)\n",
                    done.to, done.region, done.epoch, done.from, done.fenced_ms
                )
            })
        }
        Command::Demo { .. } => Err("the demo runs from main".into()),
        Command::Status { instance, password } => {
            let (t, index) = client.topology().await?;
            if let Some(name) = &instance {
                if !t.instances.contains_key(name) {
                    return Err(format!("no instance '{name}'"));
                }
            }
            let members = client.members().await?;
            let nodes = status::probe(&t, instance.as_deref(), password.as_deref());
            let channels = status::channels(&t, instance.as_deref(), &nodes);
            if json {
                return Ok(format!(
                    "{}\n",
                    serde_json::json!({"topology": t, "index": index, "leader": members.leader, "term": members.term, "nodes": nodes, "channels": channels})
                ));
            }
            let header = format!(
                "coordinators: {} (leader {}, term {}), topology at log index {index}\n\n",
                members.members.len(),
                members.leader,
                members.term
            );
            Ok(header + &status::render(&t, instance.as_deref(), &nodes, &channels))
        }
    }
}

fn channels(t: &Topology, instance: Option<&str>, json: bool) -> Result<String, String> {
    if let Some(name) = instance {
        if !t.instances.contains_key(name) {
            return Err(format!("no instance '{name}'"));
        }
    }
    let listed = t
        .instances
        .iter()
        .filter(|(name, _)| instance.is_none_or(|i| i == name.as_str()));
    if json {
        let all: Vec<_> = listed
            .flat_map(|(name, i)| {
                i.channels.iter().map(move |c| {
                    serde_json::json!({"instance": name, "from": c.from, "to": c.to, "state": c.state})
                })
            })
            .collect();
        return Ok(format!("{}\n", serde_json::json!(all)));
    }
    let rows = listed
        .flat_map(|(name, i)| {
            i.channels.iter().map(move |c| {
                vec![
                    name.clone(),
                    c.from.clone(),
                    c.to.clone(),
                    status::channel_state(c.state).to_string(),
                ]
            })
        })
        .collect();
    Ok(status::table(&["INSTANCE", "FROM", "TO", "STATE"], rows))
}

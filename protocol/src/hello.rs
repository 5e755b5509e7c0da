//! The first frame each side sends: who it is and which protocol it speaks.

use serde::{Deserialize, Serialize};

/// Eight bytes that open every conversation. A peer that sends anything else is not ours.
pub const MAGIC: [u8; 8] = *b"JOBVISR\x01";

/// Bumped on every incompatible change to any message of this crate.
pub const PROTOCOL_VERSION: u32 = 6;

/// Which side of a conversation a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Supervisor,
    Worker,
    Client,
}

/// The handshake frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: [u8; 8],
    pub protocol_version: u32,
    pub role: Role,
    /// Free-form build identity (crate version), for logs only.
    pub build: String,
}

/// Why a received `Hello` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HelloError {
    #[error("peer is not speaking the jobvisor protocol (bad magic {0:02x?})")]
    BadMagic([u8; 8]),
    #[error("peer speaks protocol version {peer}, this build speaks {ours}")]
    VersionMismatch { peer: u32, ours: u32 },
    #[error("expected a {expected:?} peer, got {got:?}")]
    WrongRole { expected: Role, got: Role },
}

impl Hello {
    /// The hello this build sends in the given role.
    pub fn ours(role: Role) -> Self {
        Hello {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION,
            role,
            build: concat!("jobvisor ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// Accepts the peer's hello if it is ours, of the same version and of the expected role.
    pub fn check(&self, expected: Role) -> Result<(), HelloError> {
        if self.magic != MAGIC {
            return Err(HelloError::BadMagic(self.magic));
        }
        if self.protocol_version != PROTOCOL_VERSION {
            return Err(HelloError::VersionMismatch {
                peer: self.protocol_version,
                ours: PROTOCOL_VERSION,
            });
        }
        if self.role != expected {
            return Err(HelloError::WrongRole {
                expected,
                got: self.role,
            });
        }
        Ok(())
    }
}

/// Why a handshake (send our [`Hello`], read and check the peer's) failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("frame error during the handshake: {0}")]
    Frame(#[from] crate::FrameError),
    #[error("peer closed the connection before sending its hello")]
    Closed,
    #[error("peer's hello refused: {0}")]
    Refused(#[from] HelloError),
}

/// The second half of every handshake, shared by the blocking and tokio transports: the
/// peer's hello (`None` if it closed first) must be one we accept.
pub(crate) fn accept_peer(peer: Option<Hello>, expected: Role) -> Result<Hello, HandshakeError> {
    let hello = peer.ok_or(HandshakeError::Closed)?;
    hello.check(expected)?;
    Ok(hello)
}

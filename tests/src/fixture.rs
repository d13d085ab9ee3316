//! What most end-to-end tests start from.

use crate::{Aws, Emulator, Sjob};

/// An emulator of its own, SDK clients on it, and `sjob` pointed at it.
pub struct Fixture {
    pub emulator: Emulator,
    pub aws: Aws,
    pub sjob: Sjob,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let emulator = Emulator::start().await;
        let aws = Aws::new(&emulator.sdk_config());
        let sjob = Sjob::new(&emulator);
        Fixture {
            emulator,
            aws,
            sjob,
        }
    }
}

//! Another program's conversation on loopback, busy while a trace records: what a privacy test
//! must keep out of the trace.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A TCP echo on `listener`'s port, talked to with `secret\n` lines every 200 µs (and `also`
/// called each turn) until dropped, or for at most 10 s or 20,000 exchanges.
pub struct Chatter {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Chatter {
    pub fn start(listener: TcpListener, also: impl Fn() + Send + 'static) -> Chatter {
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            if let Some(Ok(mut stream)) = listener.incoming().next() {
                let mut buf = [0u8; 64];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let talker_stop = stop.clone();
        let talker = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let mut buf = [0u8; 64];
            let deadline = Instant::now() + Duration::from_secs(10);
            for _ in 0..20_000 {
                if talker_stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let _ = stream.write_all(b"secret\n");
                let _ = stream.read(&mut buf);
                also();
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        Chatter { stop, threads: vec![talker, server] }
    }
}

impl Drop for Chatter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

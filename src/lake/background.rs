//! Encoding a file on a second thread: Parquet's encoding and compression cost about as much
//! as producing the batches, so a writer that hands each batch to a thread keeps two cores busy.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use datafusion::arrow::record_batch::RecordBatch;

/// Batches sent to a thread that writes them with `write` into its state, then `close`s it.
pub struct Background<T> {
    batches: Option<SyncSender<RecordBatch>>,
    worker: Option<JoinHandle<std::io::Result<T>>>,
}

impl<T: Send + 'static> Background<T> {
    pub fn spawn<S: Send + 'static>(
        mut state: S,
        write: fn(&mut S, &RecordBatch) -> std::io::Result<()>,
        close: fn(S) -> std::io::Result<T>,
    ) -> Background<T> {
        // Two batches in flight: enough to overlap, little memory.
        let (batches, received) = sync_channel::<RecordBatch>(2);
        let worker = std::thread::spawn(move || {
            for batch in received {
                write(&mut state, &batch)?;
            }
            close(state)
        });
        Background { batches: Some(batches), worker: Some(worker) }
    }

    pub fn send(&mut self, batch: RecordBatch) -> std::io::Result<()> {
        let sent = self.batches.as_ref().is_some_and(|batches| batches.send(batch).is_ok());
        if !sent {
            // The worker stopped: its error says why.
            return Err(self.join().err().unwrap_or_else(|| std::io::Error::other("file writer stopped")));
        }
        Ok(())
    }

    /// Waits for every batch to be written and the state closed.
    pub fn join(&mut self) -> std::io::Result<T> {
        self.batches = None;
        match self.worker.take() {
            Some(worker) => worker.join().map_err(|_| std::io::Error::other("file writer panicked"))?,
            None => Err(std::io::Error::other("file writer already stopped")),
        }
    }
}

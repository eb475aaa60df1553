//! Reading an object in pieces ([`Storage::get_stream`](super::Storage::get_stream)): the
//! piece stream every backend returns, and the bridge that lets blocking code (a gzip
//! decoder, the log reader of the renderer) read those pieces as one `std::io::Read`, and
//! the way back: what such blocking code sends into a channel, as a stream.

use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::StorageError;

/// What is sent into `receiver` (by a blocking reader, a few items ahead), as a stream
/// that ends when every sender is gone.
pub fn received<T>(receiver: mpsc::Receiver<T>) -> impl Stream<Item = T> {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        let item = receiver.recv().await?;
        Some((item, receiver))
    })
}

/// An object's bytes in pieces, in order; an error ends them.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// An object being read piece by piece ([`Storage::get_stream`]).
pub struct ObjectStream {
    /// Size in bytes of the version being read: exactly what the pieces add up to, except
    /// for an entry point's log derived on read ([`crate::graphs::derived`]), whose size is
    /// that of the `all` log it is made from (a version stamp, as its listings say).
    pub size: u64,
    /// The pieces.
    pub pieces: ByteStream,
}

impl ObjectStream {
    /// An object already in memory, as one piece.
    pub fn from_bytes(bytes: Bytes) -> ObjectStream {
        ObjectStream {
            size: bytes.len() as u64,
            pieces: Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
        }
    }
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("size", &self.size)
            .finish()
    }
}

/// Streams are read in pieces of at most this many bytes: a gigabyte is 256 reads or
/// requests, and a reader a few pieces ahead holds a few of them.
pub const READ_PIECE: u64 = 4 << 20;

/// The pieces of an object of `size` bytes, each read by `read(offset, len)` (which must
/// return exactly `len` bytes) only when the previous one has been taken.
pub(super) fn read_in_pieces<F, Fut>(path: &str, size: u64, read: F) -> ObjectStream
where
    F: FnMut(u64, u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Bytes, StorageError>> + Send + 'static,
{
    let path = path.to_owned();
    let pieces = futures_util::stream::try_unfold((0u64, read), move |(offset, mut read)| {
        let path = path.clone();
        async move {
            if offset >= size {
                return Ok(None);
            }
            let len = (size - offset).min(READ_PIECE);
            let piece = read(offset, len).await?;
            if piece.len() as u64 != len {
                return Err(StorageError::Io {
                    operation: "read",
                    path,
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "expected {len} bytes at offset {offset}, got {}: the object changed while being read",
                            piece.len()
                        ),
                    ),
                });
            }
            Ok(Some((piece, (offset + len, read))))
        }
    });
    ObjectStream {
        size,
        pieces: Box::pin(pieces),
    }
}

/// Pieces handed to a blocking reader ahead of what it has read.
const AHEAD: usize = 2;

/// Run `read` on a blocking thread over the concatenated `pieces` (of `path`), fetched here
/// as it reads them (never more than a couple ahead), and return what it returns. A piece
/// that fails to arrive is an I/O error for `read`.
pub async fn read_blocking<T, F>(path: &str, pieces: ByteStream, read: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce(PieceReader) -> T + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(AHEAD);
    let reading = tokio::task::spawn_blocking(move || read(PieceReader::new(receiver)));
    let feeding = async move {
        let mut pieces = pieces;
        while let Some(piece) = pieces.next().await {
            let piece = piece.map_err(io::Error::other);
            // The reader stopped early (it had enough, or failed): stop fetching.
            if sender.send(piece).await.is_err() {
                break;
            }
        }
    };
    let ((), outcome) = tokio::join!(feeding, reading);
    outcome.map_err(|join| StorageError::Io {
        operation: "read",
        path: path.to_owned(),
        source: io::Error::other(format!("reading thread failed: {join}")),
    })
}

/// Reads the pieces sent into a channel as one stream of bytes, blocking until each
/// arrives: only for blocking threads. The sender closing is the end; an error piece is
/// an I/O error.
pub struct PieceReader {
    pieces: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl PieceReader {
    /// A reader of what is sent into `pieces`.
    pub fn new(pieces: mpsc::Receiver<io::Result<Bytes>>) -> PieceReader {
        PieceReader {
            pieces,
            current: Bytes::new(),
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.pieces.blocking_recv() {
                Some(piece) => self.current = piece?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

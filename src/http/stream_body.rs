//! Response bodies made while they are sent: a stored file's gzip decoded piece by piece for
//! a client that does not accept gzip, and a large stored file passed through as storage
//! reads it. Either way the service holds a few pieces of a file, never all of it: a day's
//! log is about a gigabyte gzip'd and eight decoded.

use std::io::{self, Write};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::store::storage::{self, ByteStream};
use crate::{ops::events, store::compress};

/// Decoded text goes out in pieces of this size.
const DECODED_PIECE: usize = 256 * 1024;
/// Decoded pieces made ahead of what the client has taken.
const AHEAD: usize = 2;

/// The decoded text of the gzip (or packed trace) that `input` (the file at `path`)
/// yields; with `gzip_again`, that text gzip'd anew as it is made (a packed trace served to
/// a client that accepts gzip). It is decoded on a blocking thread, a couple of pieces
/// ahead of the client (so never faster than the client reads), and decoding stops when
/// the client goes away. A file that cannot be read or decoded ends the body early: the
/// client sees a truncated chunked response, the operator [`events::serve_stream_failed`].
pub fn gunzip(
    path: String,
    input: ByteStream,
    gzip_again: bool,
) -> impl Stream<Item = io::Result<Bytes>> + 'static {
    let (decoded, decoded_pieces) = mpsc::channel(AHEAD);
    actix_web::rt::spawn(async move {
        let reader_path = path.clone();
        let decoding = storage::read_blocking(&path, input, move |reader| {
            let mut encoder = gzip_again.then(|| compress::gzip_writer(DECODED_PIECE));
            for piece in compress::gunzip_chunks(reader, DECODED_PIECE) {
                let failed = piece.is_err();
                let piece = piece
                    .and_then(|piece| match &mut encoder {
                        Some(encoder) => {
                            encoder
                                .write_all(&piece)
                                .map_err(compress::GunzipError::from)?;
                            Ok(Bytes::from(std::mem::take(encoder.get_mut())))
                        }
                        None => Ok(piece),
                    })
                    .map_err(|e| {
                        events::serve_stream_failed(&reader_path, &e.to_string());
                        io::Error::other(e)
                    });
                // After a failure the body ends: nothing after it would reach the client.
                if decoded.blocking_send(piece).is_err() || failed {
                    return;
                }
            }
            if let Some(encoder) = encoder {
                let _ = decoded.blocking_send(encoder.finish().map(Bytes::from));
            }
        });
        if let Err(e) = decoding.await {
            events::serve_stream_failed(&path, &e.to_string());
        }
    });
    storage::received(decoded_pieces)
}

/// A large stored file's (at `path`) pieces as they are read from storage; a failure on
/// the way is [`events::serve_stream_failed`] (the client sees a truncated response).
pub fn passthrough<S, E>(path: String, pieces: S) -> impl Stream<Item = io::Result<Bytes>> + 'static
where
    S: Stream<Item = Result<Bytes, E>> + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    pieces.map(move |piece| {
        piece.map_err(|e| {
            events::serve_stream_failed(&path, &e.to_string());
            io::Error::other(e)
        })
    })
}

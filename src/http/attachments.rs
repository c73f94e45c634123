//! Files: `POST /api/v1/sessions/{id}/attachments` (multipart, one file per request, by
//! a participant of an open session) and `GET /api/v1/attachments/{id}` (to the
//! session's participants, admins and the bot that created the session).
//!
//! An upload is checked in the order that costs least to refuse (SPEC section 12): who
//! may send in the session, before a byte of the body is read; the declared length; the
//! room the session has left (`too_large` when it holds its most files or bytes). Then
//! the first bytes decide the type (`sniff`, never the name or the type the client sent;
//! the name is only a display name, and gets the type's extension). Then the caller's
//! upload rate: it counts files that would be stored, so a refused type or an empty file
//! (at most a chunk read) is not an upload, and the rate is spent before a byte is
//! written. The file is then streamed to disk and refused with 413 as soon as it passes
//! the upload limit or the session's room, without reading the rest; it is kept only if
//! its row is stored, which happens with the session locked and counted again, so two
//! uploads at once cannot both take the last room.

use actix_multipart::{Field, Multipart};
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::web::Bytes;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel::PgConnection;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{self, Action};
use crate::attachments::incoming::{IncomingFile, Written};
use crate::attachments::outgoing::OutgoingFile;
use crate::attachments::quota::{OverQuota, SessionQuota};
use crate::attachments::sniff::{sniff, Kind, Sniffed, SNIFF_LEN};
use crate::attachments::{self as files, name_for_kind, sanitize_file_name};
use crate::auth::Caller;
use crate::db;
use crate::domain::{AttachmentId, SessionId};
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::Attachment;
use crate::state::AppState;

/// Room for multipart boundaries and part headers on top of the file itself.
const MULTIPART_OVERHEAD: usize = 16 * 1024;

#[derive(Serialize, ToSchema)]
pub struct AttachmentBody {
    pub attachment: Attachment,
}

/// The multipart form of an upload, as the OpenAPI document describes it (the handler
/// reads the parts as a stream instead).
#[derive(ToSchema)]
pub struct Upload {
    /// The file; its name is kept (sanitised, with the extension of its type) for
    /// display.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[utoipa::path(
    operation_id = "upload_attachment",
    context_path = "/api/v1",
    tag = "attachments",
    params(("id" = SessionId, Path)),
    request_body(content = Upload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; send it with `message.send {attachment_id}`",
            body = AttachmentBody),
        (status = 400, description = "Not multipart, no file, or a refused file type",
            body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not a participant", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session has ended", body = ErrorResponse),
        (status = 413, description = "Larger than the upload limit, or the session already \
            holds as many files or bytes as it may", body = ErrorResponse),
        (status = 429, description = "Too many uploads by this caller",
            body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds until an upload may pass"))),
    ),
    security(("bearer" = []))
)]
#[post("/sessions/{id}/attachments")]
async fn upload(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let session = state
        .db
        .run(move |conn| {
            db::sessions::find(conn, id)?.ok_or_else(|| Error::not_found("no such session"))
        })
        .await?;
    access::authorize(&session, &caller, Action::Send)?;
    let limit = state.config.max_upload_bytes;
    if declared_length(&req).is_some_and(|length| length > limit.saturating_add(MULTIPART_OVERHEAD))
    {
        return Err(too_large(limit));
    }
    let quota = SessionQuota::new(&state.config.limits);
    let usage = state
        .db
        .run(move |conn| Ok(db::attachments::usage(conn, id)?))
        .await?;
    let bound = FileBound::new(limit, quota, quota.room(usage)?);

    let mut form = Form::new(Multipart::new(req.headers(), payload), limit);
    let (name, mut part) = form.file_part().await?;
    let head = form.head(&mut part).await?;
    let kind = accepted_kind(&head)?;
    state.limiters.upload(caller.uuid())?;

    let mut file = IncomingFile::create(&state.config.attachment_dir()).await?;
    let received = receive(&mut file, head, &mut form, part, &bound).await;
    let written = match received {
        Ok(written) => written,
        Err(error) => {
            file.discard().await;
            return Err(error);
        }
    };

    let row = db::attachments::Attachment {
        id: AttachmentId::new(),
        session_id: id,
        uploaded_by: caller.uuid(),
        file_name: name_for_kind(&name, kind),
        content_type: kind.content_type().to_owned(),
        size_bytes: i64::try_from(written.size).map_err(Error::internal)?,
        sha256: written.sha256,
        storage_key: file.storage_key().to_owned(),
        created_at: Utc::now(),
    };
    let stored = state
        .db
        .run(move |conn| store(conn, file, &row, &quota))
        .await??;
    log::debug!(
        "session {id}: attachment {} stored ({} bytes)",
        stored.id,
        stored.size_bytes
    );
    Ok(HttpResponse::Created().json(AttachmentBody {
        attachment: Attachment::from(&stored),
    }))
}

/// Writes the file part into `file`, starting with the `head` already read, then reads
/// the rest of the form.
async fn receive(
    file: &mut IncomingFile,
    head: Vec<u8>,
    form: &mut Form,
    mut part: Part,
    bound: &FileBound,
) -> Result<Written> {
    let mut next = Some(Bytes::from(head));
    while let Some(chunk) = next {
        bound.check(file.size() + chunk.len() as u64)?;
        file.write(&chunk).await?;
        next = form.chunk(&mut part).await?;
    }
    // The form moves on to its next part only once this one is dropped.
    drop(part);
    form.finish().await?;
    file.finish().await
}

/// Stores `row` if the session still has room, and keeps `file` only then. It runs with
/// the file on the blocking pool, so whether the file stays is decided by the insert's
/// outcome even when the client goes away meanwhile.
fn store(
    conn: &mut PgConnection,
    file: IncomingFile,
    row: &db::attachments::Attachment,
    quota: &SessionQuota,
) -> Result<Result<db::attachments::Attachment, OverQuota>> {
    let stored = db::attachments::insert_within_quota(conn, row, quota);
    match stored {
        Ok(Ok(_)) => file.keep(),
        _ => file.remove(),
    }
    Ok(stored?)
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

fn accepted_kind(head: &[u8]) -> Result<Kind> {
    if head.is_empty() {
        return Err(Error::bad_request("the file is empty"));
    }
    match sniff(&head[..head.len().min(SNIFF_LEN)]) {
        Sniffed::Accepted(kind) => Ok(kind),
        Sniffed::Executable => Err(Error::bad_request(
            "executable files and scripts are not accepted",
        )),
        Sniffed::Unknown => Err(Error::bad_request(
            "unsupported file type: images, PDF, ZIP and plain text are accepted",
        )),
    }
}

fn too_large(limit: usize) -> Error {
    Error::too_large(format!("files may be at most {limit} bytes"))
}

/// The most bytes this file may have: the upload limit, or the session's room when that
/// is less, with the refusal that says which one it passed.
struct FileBound {
    most: u64,
    refusal: Error,
}

impl FileBound {
    fn new(limit: usize, quota: SessionQuota, room: u64) -> FileBound {
        let limit_bytes = u64::try_from(limit).unwrap_or(u64::MAX);
        if room < limit_bytes {
            let refusal = OverQuota::Bytes { limit: quota.bytes }.into();
            FileBound {
                most: room,
                refusal,
            }
        } else {
            FileBound {
                most: limit_bytes,
                refusal: too_large(limit),
            }
        }
    }

    fn check(&self, size: u64) -> Result<()> {
        if size > self.most {
            return Err(self.refusal.clone());
        }
        Ok(())
    }
}

/// A multipart form read as a stream, every byte of every part counted against the
/// upload limit.
struct Form {
    parts: Multipart,
    read: usize,
    limit: usize,
}

impl Form {
    fn new(parts: Multipart, limit: usize) -> Form {
        Form {
            parts,
            read: 0,
            limit,
        }
    }

    /// The first part that is a file (it has a file name, or is the field `file`) and
    /// its sanitised name; the parts before it are read and dropped.
    async fn file_part(&mut self) -> Result<(String, Part)> {
        while let Some(field) = self.parts.next().await {
            let field = field.map_err(invalid)?;
            let name = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .map(sanitize_file_name);
            let is_file = name.is_some() || field.name() == Some("file");
            let mut part = Part {
                field,
                ended: false,
            };
            if is_file {
                return Ok((name.unwrap_or_else(|| "file".to_owned()), part));
            }
            while self.chunk(&mut part).await?.is_some() {}
        }
        Err(Error::bad_request("no file in the form (field `file`)"))
    }

    /// The start of `part`: at least [`SNIFF_LEN`] bytes, or all of it if shorter.
    async fn head(&mut self, part: &mut Part) -> Result<Vec<u8>> {
        let mut head = Vec::new();
        while head.len() < SNIFF_LEN {
            match self.chunk(part).await? {
                Some(chunk) => head.extend_from_slice(&chunk),
                None => break,
            }
        }
        Ok(head)
    }

    /// The next bytes of `part`; `too_large` as soon as the form passes the limit.
    async fn chunk(&mut self, part: &mut Part) -> Result<Option<Bytes>> {
        if part.ended {
            return Ok(None);
        }
        let Some(chunk) = part.field.next().await else {
            part.ended = true;
            return Ok(None);
        };
        let chunk = chunk.map_err(invalid)?;
        self.read = self.read.saturating_add(chunk.len());
        if self.read > self.limit {
            return Err(too_large(self.limit));
        }
        Ok(Some(chunk))
    }

    /// Reads and drops the parts after the file.
    async fn finish(&mut self) -> Result<()> {
        while let Some(field) = self.parts.next().await {
            let mut part = Part {
                field: field.map_err(invalid)?,
                ended: false,
            };
            while self.chunk(&mut part).await?.is_some() {}
        }
        Ok(())
    }
}

/// One part of the form; a part is not read again once it has ended.
struct Part {
    field: Field,
    ended: bool,
}

fn invalid(error: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("invalid multipart body: {error}"))
}

#[utoipa::path(
    operation_id = "download_attachment",
    context_path = "/api/v1",
    tag = "attachments",
    params(("id" = AttachmentId, Path)),
    responses(
        (status = 200, description = "The file, as a download", content(
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "image/gif"),
            (Vec<u8> = "image/webp"),
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/zip"),
            (String = "text/plain"),
        )),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not allowed to see the session", body = ErrorResponse),
        (status = 404, description = "No such attachment", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/attachments/{id}")]
async fn download(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<AttachmentId>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let (file, session) = state
        .db
        .run(move |conn| {
            let file = db::attachments::find(conn, id)?
                .ok_or_else(|| Error::not_found("no such attachment"))?;
            let session = db::sessions::find(conn, file.session_id)?
                .ok_or_else(|| Error::internal("attachment without a session"))?;
            Ok((file, session))
        })
        .await?;
    access::authorize(&session, &caller, Action::History)?;
    let path = files::path(&state.config.attachment_dir(), &file.storage_key);
    let stored = OutgoingFile::open(path).await?;
    Ok(HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header(disposition(&file.file_name))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(stored.len)
        .streaming(stored.into_stream()))
}

/// `attachment; filename="…"`, plus the RFC 6266 `filename*` form when the name is not
/// plain ASCII (the plain form then carries an ASCII stand-in for old clients).
fn disposition(file_name: &str) -> ContentDisposition {
    let mut parameters = vec![DispositionParam::Filename(
        file_name
            .chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect(),
    )];
    if !file_name.is_ascii() {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".to_owned()),
            language_tag: None,
            value: file_name.as_bytes().to_vec(),
        }));
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(upload).service(download);
}

//! Files: `POST /api/v1/sessions/{id}/attachments` (multipart, one file per request, by
//! a participant of an open session) and `GET /api/v1/attachments/{id}` (to the
//! session's participants, admins and the bot that created the session).
//!
//! An upload is refused with 413 as soon as it passes the limit, without reading the
//! rest; what was read is bounded by the limit. The type is decided by `sniff`, never by
//! the name or the type the client sent; the name is only ever a display name.

use actix_multipart::Multipart;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{self, Action};
use crate::attachments::sniff::{sniff, Sniffed, SNIFF_LEN};
use crate::attachments::{self as files, sanitize_file_name};
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
    /// The file; its name is kept (sanitised) for display.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// A file received from a client, not yet checked.
struct Received {
    name: String,
    bytes: Vec<u8>,
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
        (status = 413, description = "Larger than the upload limit", body = ErrorResponse),
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
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(too_large(limit));
    }
    let received = receive(Multipart::new(req.headers(), payload), limit).await?;
    let content_type = match sniff(&received.bytes[..received.bytes.len().min(SNIFF_LEN)]) {
        Sniffed::Accepted(kind) => kind,
        Sniffed::Executable => {
            return Err(Error::bad_request(
                "executable files and scripts are not accepted",
            ))
        }
        Sniffed::Unknown => {
            return Err(Error::bad_request(
                "unsupported file type: images, PDF, ZIP and plain text are accepted",
            ))
        }
    };
    let storage_key = files::new_storage_key()?;
    let dir = state.config.attachment_dir();
    let size_bytes = received.bytes.len() as i64;
    let sha256 = {
        let (dir, key) = (dir.clone(), storage_key.clone());
        web::block(move || files::store(&dir, &key, &received.bytes))
            .await
            .map_err(Error::internal)??
    };
    let row = db::attachments::Attachment {
        id: AttachmentId::new(),
        session_id: id,
        uploaded_by: caller.uuid(),
        file_name: received.name,
        content_type: content_type.to_owned(),
        size_bytes,
        sha256,
        storage_key: storage_key.clone(),
        created_at: Utc::now(),
    };
    let stored = state
        .db
        .run(move |conn| Ok(db::attachments::insert(conn, &row)?))
        .await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(error) => {
            let _ = std::fs::remove_file(files::path(&dir, &storage_key));
            return Err(error);
        }
    };
    log::debug!(
        "session {id}: attachment {} stored ({size_bytes} bytes)",
        stored.id
    );
    Ok(HttpResponse::Created().json(AttachmentBody {
        attachment: Attachment::from(&stored),
    }))
}

fn too_large(limit: usize) -> Error {
    Error::too_large(format!("files may be at most {limit} bytes"))
}

/// Reads the first file part of the form, stopping as soon as more than `limit` bytes
/// (of all parts together) have arrived.
async fn receive(mut form: Multipart, limit: usize) -> Result<Received> {
    let mut file: Option<Received> = None;
    let mut total = 0usize;
    while let Some(part) = form.next().await {
        let mut part =
            part.map_err(|e| Error::bad_request(format!("invalid multipart body: {e}")))?;
        let name = part
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(sanitize_file_name);
        let is_file = file.is_none() && (name.is_some() || part.name() == Some("file"));
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk =
                chunk.map_err(|e| Error::bad_request(format!("invalid multipart body: {e}")))?;
            total += chunk.len();
            if total > limit {
                return Err(too_large(limit));
            }
            if is_file {
                bytes.extend_from_slice(&chunk);
            }
        }
        if is_file {
            file = Some(Received {
                name: name.unwrap_or_else(|| "file".to_owned()),
                bytes,
            });
        }
    }
    let file = file.ok_or_else(|| Error::bad_request("no file in the form (field `file`)"))?;
    if file.bytes.is_empty() {
        return Err(Error::bad_request("the file is empty"));
    }
    Ok(file)
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
    let bytes = web::block(move || std::fs::read(path))
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::internal(format!("attachment {id} unreadable: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header(disposition(&file.file_name))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
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

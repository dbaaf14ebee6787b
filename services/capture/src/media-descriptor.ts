import type { proto } from '@whiskeysockets/baileys';
import type { MediaDescriptor } from '@switchyard/schema';
import { readBase64, readString, readUint } from './wa-readers.ts';

type MediaKind = MediaDescriptor['kind'];
type MediaMessage =
  | proto.Message.IImageMessage
  | proto.Message.IVideoMessage
  | proto.Message.IAudioMessage
  | proto.Message.IDocumentMessage
  | proto.Message.IStickerMessage;

/** The content keys that carry a downloadable blob, and the kind each one is. */
function findMedia(content: proto.IMessage): { kind: MediaKind; media: MediaMessage } | undefined {
  if (content.imageMessage) return { kind: 'image', media: content.imageMessage };
  if (content.videoMessage) return { kind: 'video', media: content.videoMessage };
  // Round video notes ("ptv") are ordinary video blobs.
  if (content.ptvMessage) return { kind: 'video', media: content.ptvMessage };
  if (content.audioMessage) return { kind: 'audio', media: content.audioMessage };
  if (content.documentMessage) return { kind: 'document', media: content.documentMessage };
  if (content.stickerMessage) return { kind: 'sticker', media: content.stickerMessage };
  return undefined;
}

/**
 * Everything the media service needs to fetch, decrypt and verify the blob later (Baileys'
 * `downloadMediaMessage` needs mediaKey + directPath/url; the hashes verify it). Takes content
 * already unwrapped by `normalizeMessageContent`.
 */
export function mediaDescriptor(content: proto.IMessage): MediaDescriptor | undefined {
  const found = findMedia(content);
  if (!found) return undefined;
  const { kind, media } = found;
  const descriptor: MediaDescriptor = { kind };
  assign(descriptor, 'mimetype', readString(media.mimetype));
  assign(descriptor, 'file_length', readUint(media.fileLength));
  assign(descriptor, 'media_key', readBase64(media.mediaKey));
  assign(descriptor, 'direct_path', readString(media.directPath));
  assign(descriptor, 'url', readString(media.url));
  assign(descriptor, 'file_sha256', readBase64(media.fileSha256));
  assign(descriptor, 'file_enc_sha256', readBase64(media.fileEncSha256));
  assign(descriptor, 'file_name', 'fileName' in media ? readString(media.fileName) : undefined);
  assign(descriptor, 'caption', 'caption' in media ? readString(media.caption) : undefined);
  assign(descriptor, 'seconds', 'seconds' in media ? readUint(media.seconds) : undefined);
  assign(descriptor, 'width', 'width' in media ? readUint(media.width) : undefined);
  assign(descriptor, 'height', 'height' in media ? readUint(media.height) : undefined);
  return descriptor;
}

/** Sets a field only when present, so absent values are absent keys rather than `undefined`. */
function assign<K extends keyof MediaDescriptor>(
  target: MediaDescriptor,
  key: K,
  value: MediaDescriptor[K] | undefined,
): void {
  if (value !== undefined) target[key] = value;
}

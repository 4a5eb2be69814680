import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CorruptSegmentError } from '../errors';
import { segmentBucket } from '../topology';

/**
 * Segment bytes above the inline threshold live in S3, written before the log
 * item that points at them is committed. An object whose commit never
 * happened is an orphan; the sweeper removes it (see `sweepOrphanSegments`).
 */
export class SegmentStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Uploads a segment and returns its key, `segments/<topic>/<partition>/<uuid>`. */
  async put(topic: string, partition: number, bytes: Buffer): Promise<string> {
    const key = `${segmentBucket.prefix}${topic}/${partition}/${randomUUID()}`;
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentType: 'application/vnd.eventbus.segment',
      }),
    );
    return key;
  }

  async get(key: string): Promise<Buffer> {
    const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!result.Body) throw new CorruptSegmentError(`Segment object ${key} has no body.`);
    return Buffer.from(await result.Body.transformToByteArray());
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

import type { ValidateFunction } from 'ajv/dist/2020';
import type { OnCompleteTemplate } from '../../shared/batches/batch';
import type { ErrorDetail } from '../../shared/errors';
import type { JsonValue } from '../../shared/task';
import { compileSchema, invalid, toDetails, type CheckedItems, type Validator } from '../validation';
import { batchChildrenSchema, batchCreationSchema, MAX_BATCH_METADATA_BYTES } from './schemas';

export interface BatchCreation {
  /** Absent when the request brought no children. */
  children?: CheckedItems;
  seal: boolean;
  callbackUrl?: string;
  onComplete?: OnCompleteTemplate;
  metadata?: JsonValue;
}

export interface BatchChildren {
  children: CheckedItems;
  seal: boolean;
}

/** Checks the bodies of the batch routes; children are checked one by one, as POST /v1/tasks/batch's. */
export class BatchValidator {
  private readonly checkCreation: ValidateFunction;
  private readonly checkChildren: ValidateFunction;

  constructor(
    private readonly tasks: Validator,
    maxBatchTasks: number,
  ) {
    // The envelope only: children and onComplete are checked as task submissions.
    const creation = batchCreationSchema(maxBatchTasks);
    this.checkCreation = compileSchema({
      ...creation,
      properties: {
        ...creation.properties,
        tasks: { ...creation.properties.tasks, items: true },
        onComplete: { type: 'object' },
      },
    });
    const children = batchChildrenSchema(maxBatchTasks);
    this.checkChildren = compileSchema({
      ...children,
      properties: { ...children.properties, tasks: { ...children.properties.tasks, items: true } },
    });
  }

  creation(body: unknown, now: number): BatchCreation {
    if (!this.checkCreation(body))
      throw invalid('the batch is not valid', toDetails(this.checkCreation.errors ?? [], ''));
    const fields = body as Record<string, JsonValue | undefined>;
    const details: ErrorDetail[] = [];
    if (typeof fields.callbackUrl === 'string') {
      const refusal = this.tasks.callbackRefusal(fields.callbackUrl);
      if (refusal) details.push({ field: 'callbackUrl', message: refusal });
    }
    if (
      fields.metadata !== undefined &&
      Buffer.byteLength(JSON.stringify(fields.metadata)) > MAX_BATCH_METADATA_BYTES
    )
      details.push({ field: 'metadata', message: `at most ${MAX_BATCH_METADATA_BYTES} bytes as JSON` });
    const onComplete =
      fields.onComplete === undefined ? undefined : this.onComplete(fields.onComplete, now, details);
    if (details.length > 0) throw invalid('the batch is not valid', details);
    const tasks = fields.tasks as unknown[] | undefined;
    return {
      ...(tasks !== undefined && tasks.length > 0 && { children: this.tasks.items(tasks, now) }),
      seal: fields.seal === true,
      ...(typeof fields.callbackUrl === 'string' && { callbackUrl: fields.callbackUrl }),
      ...(onComplete && { onComplete }),
      ...(fields.metadata !== undefined && { metadata: fields.metadata }),
    };
  }

  children(body: unknown, now: number): BatchChildren {
    if (!this.checkChildren(body))
      throw invalid('the children are not valid', toDetails(this.checkChildren.errors ?? [], ''));
    const fields = body as { tasks: unknown[]; seal?: boolean };
    return { children: this.tasks.items(fields.tasks, now), seal: fields.seal === true };
  }

  /**
   * The onComplete task as stored: checked as a submission now, submitted when the batch
   * completes. Its delay counts from then, so runAt (a fixed time) has no meaning here.
   */
  private onComplete(raw: JsonValue, now: number, details: ErrorDetail[]): OnCompleteTemplate | undefined {
    const template = raw as Record<string, JsonValue>;
    if ('runAt' in template) {
      details.push({
        field: 'onComplete.runAt',
        message: 'not for onComplete: give delayMs (from completion)',
      });
      return undefined;
    }
    try {
      // Checked now as the task it will be; runAt, made from delayMs and now, is not kept.
      const { runAt, ...fields } = this.tasks.submission(raw, now, 'onComplete.');
      const delayMs = runAt === undefined ? undefined : template.delayMs;
      return { ...fields, ...(typeof delayMs === 'number' && { delayMs }) };
    } catch (err) {
      const detail = (err as { details?: ErrorDetail[] }).details;
      if (!detail) throw err;
      details.push(...detail);
      return undefined;
    }
  }
}

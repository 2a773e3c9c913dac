//! Request coalescing for the PostgreSQL store. Callers submit requests one at a time; a
//! dispatcher task hands everything queued to a runner as one batch, with at most `in_flight`
//! batches running at once. While batches are in flight, new requests queue up and form the
//! next batch, so under load one database round trip (and, for writes, one commit) serves many
//! requests, and at low load a request is sent on its own at once (after one yield to the
//! scheduler, so that requests other tasks are about to submit join it).
//!
//! Every batch starts after each of its requests was submitted, so a batch never answers with
//! a state older than its requests (no request is served from an earlier round trip's answer).
//! Runners run in their own tasks: a caller that stops waiting does not cancel a round trip
//! half-way (which would leave a connection in an unknown state), it only loses the answer.

use std::future::Future;
use std::sync::Arc;

use keyplane_core::store::StoreError;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

/// The most batches a batcher lets run at once, whatever its limits ask for.
const MAX_IN_FLIGHT: usize = 1_024;

/// How a batcher forms batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// The most batches running at once (1 to 1,024).
    pub in_flight: usize,
    /// The most weight (see [`Batcher::start`]) one batch takes; a request heavier than this
    /// forms a batch of its own.
    pub max_weight: usize,
}

/// A submitted request and where its answer goes.
struct Pending<Request, Response> {
    request: Request,
    reply: oneshot::Sender<Result<Response, StoreError>>,
}

/// The sending half of a batcher and its dispatcher task.
pub(crate) struct Batcher<Request, Response> {
    name: &'static str,
    sender: Mutex<Option<mpsc::UnboundedSender<Pending<Request, Response>>>>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

impl<Request, Response> Batcher<Request, Response>
where
    Request: Send + 'static,
    Response: Send + 'static,
{
    /// Starts the dispatcher on the current Tokio runtime. `run` receives each batch, in
    /// submission order, and must answer with one result per request, in the same order;
    /// `weight` says how much of `limits.max_weight` a request uses.
    pub(crate) fn start<Run, RunFuture>(
        name: &'static str,
        limits: BatchLimits,
        weight: fn(&Request) -> usize,
        run: Run,
    ) -> Self
    where
        Run: Fn(Vec<Request>) -> RunFuture + Send + Sync + 'static,
        RunFuture: Future<Output = Vec<Result<Response, StoreError>>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::unbounded_channel();
        let dispatcher = tokio::spawn(dispatch(limits, weight, Arc::new(run), receiver));
        Self {
            name,
            sender: Mutex::new(Some(sender)),
            dispatcher: Mutex::new(Some(dispatcher)),
        }
    }

    /// Queues `request` and waits for its answer.
    pub(crate) async fn submit(&self, request: Request) -> Result<Response, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let sender = self.sender.lock();
            let sender = sender
                .as_ref()
                .ok_or_else(|| StoreError::Backend("the store is closed".to_owned()))?;
            sender.send(Pending { request, reply }).map_err(|_| {
                StoreError::Backend(format!("the PostgreSQL {} has stopped", self.name))
            })?;
        }
        answer.await.map_err(|_| {
            StoreError::Backend(format!("the PostgreSQL {} dropped a request", self.name))
        })?
    }

    /// Stops accepting requests and waits until everything submitted has been answered.
    pub(crate) async fn close(&self) {
        self.sender.lock().take();
        let dispatcher = self.dispatcher.lock().take();
        if let Some(dispatcher) = dispatcher {
            let _ = dispatcher.await;
        }
    }
}

async fn dispatch<Request, Response, Run, RunFuture>(
    limits: BatchLimits,
    weight: fn(&Request) -> usize,
    run: Arc<Run>,
    mut receiver: mpsc::UnboundedReceiver<Pending<Request, Response>>,
) where
    Request: Send + 'static,
    Response: Send + 'static,
    Run: Fn(Vec<Request>) -> RunFuture + Send + Sync + 'static,
    RunFuture: Future<Output = Vec<Result<Response, StoreError>>> + Send + 'static,
{
    // At least one; at most a bound that keeps the permit count a small u32.
    let in_flight = limits.in_flight.clamp(1, MAX_IN_FLIGHT);
    let slots = Arc::new(Semaphore::new(in_flight));
    // A request taken from the queue that did not fit in the previous batch.
    let mut carried: Option<Pending<Request, Response>> = None;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let first = match carried.take() {
            Some(pending) => pending,
            None => match receiver.recv().await {
                Some(pending) => pending,
                None => break,
            },
        };
        // Let every task that is ready to run go first: a request wakes the dispatcher, which
        // Tokio would otherwise run right after that one submitter, before the other
        // connections' requests, already read from their sockets, are queued. With nothing
        // else to run this returns at once.
        tokio::task::yield_now().await;
        let mut batch_weight = weight(&first.request);
        let mut batch = vec![first];
        while batch_weight < limits.max_weight {
            let Ok(next) = receiver.try_recv() else {
                break;
            };
            let next_weight = weight(&next.request);
            if batch_weight + next_weight > limits.max_weight {
                carried = Some(next);
                break;
            }
            batch_weight += next_weight;
            batch.push(next);
        }
        let run = Arc::clone(&run);
        tokio::spawn(async move {
            let (requests, replies): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|pending| (pending.request, pending.reply))
                .unzip();
            let expected = replies.len();
            let mut responses = run(requests).await.into_iter();
            for (index, reply) in replies.into_iter().enumerate() {
                let response = responses.next().unwrap_or_else(|| {
                    Err(StoreError::Backend(format!(
                        "a batch of {expected} requests was answered {index} times"
                    )))
                });
                let _ = reply.send(response);
            }
            drop(slot);
        });
    }
    // Wait for the batches still running: closing the store waits for every answer.
    let _ = slots.acquire_many(in_flight as u32).await;
}

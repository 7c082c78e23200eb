//! Reading a whole topic without a consumer group (the stories and topology logs).

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaError, Result};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KafkaError::Timeout(format!("metadata task: {e}")))?
}

/// Assigns every partition of `topic`, from the beginning.
pub(crate) async fn assign_all(
    consumer: &std::sync::Arc<StreamConsumer>,
    topic: &str,
) -> Result<()> {
    let (c, t) = (consumer.clone(), topic.to_string());
    let n = blocking(move || {
        let md = c.fetch_metadata(Some(&t), TIMEOUT)?;
        Ok(md
            .topics()
            .iter()
            .find(|x| x.name() == t)
            .map_or(0, |x| x.partitions().len()))
    })
    .await?;
    if n == 0 {
        return Err(KafkaError::Timeout(format!(
            "topic {topic} has no partitions"
        )));
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..n as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    Ok(())
}

/// Whether `positions` (next offset read per partition) reached the end of every
/// partition of `topic`.
pub(crate) async fn caught_up(
    consumer: &std::sync::Arc<StreamConsumer>,
    topic: &str,
    positions: &HashMap<i32, i64>,
) -> Result<bool> {
    let assigned = consumer.assignment()?;
    let parts: Vec<i32> = assigned.elements().iter().map(|e| e.partition()).collect();
    let (c, t) = (consumer.clone(), topic.to_string());
    let marks = blocking(move || {
        parts
            .into_iter()
            .map(|p| Ok((p, c.fetch_watermarks(&t, p, TIMEOUT)?)))
            .collect::<Result<Vec<_>>>()
    })
    .await?;
    Ok(marks
        .into_iter()
        .all(|(p, (low, high))| high <= low || positions.get(&p).is_some_and(|pos| *pos >= high)))
}

// Apache Curator, unmodified, against the ZooKeeper connect string in
// args[0] (coord's ZooKeeper door): a node made with its parents, a
// transaction, an InterProcessMutex held by one client while another
// waits, a LeaderLatch handed over when its leader closes, and a
// CuratorCache (a persistent recursive watch) seeing a change. Prints one
// line per step; tests/test_zk_door.py compiles and runs it.
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;

public class CuratorSteps {
    static CuratorFramework client(String hosts) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.builder()
            .connectString(hosts)
            .retryPolicy(new RetryNTimes(3, 100))
            .build();
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        return client;
    }

    public static void main(String[] args) throws Exception {
        CuratorFramework one = client(args[0]);
        CuratorFramework two = client(args[0]);

        one.create().creatingParentsIfNeeded().forPath("/curator/a/b", "v".getBytes(StandardCharsets.UTF_8));
        System.out.println("created " + new String(one.getData().forPath("/curator/a/b"), StandardCharsets.UTF_8));

        one.transaction().forOperations(
            one.transactionOp().create().forPath("/curator/t", new byte[0]),
            one.transactionOp().setData().forPath("/curator/a/b", "w".getBytes(StandardCharsets.UTF_8)));
        System.out.println("transaction " + new String(two.getData().forPath("/curator/a/b"), StandardCharsets.UTF_8));

        InterProcessMutex mine = new InterProcessMutex(one, "/curator/lock");
        InterProcessMutex theirs = new InterProcessMutex(two, "/curator/lock");
        mine.acquire();
        System.out.println("other acquires while held: " + theirs.acquire(200, TimeUnit.MILLISECONDS));
        mine.release();
        System.out.println("other acquires once released: " + theirs.acquire(30, TimeUnit.SECONDS));
        theirs.release();

        LeaderLatch first = new LeaderLatch(one, "/curator/leader", "first");
        first.start();
        first.await(30, TimeUnit.SECONDS);
        LeaderLatch second = new LeaderLatch(two, "/curator/leader", "second");
        second.start();
        System.out.println("leader " + first.getLeader().getId());
        first.close();
        second.await(30, TimeUnit.SECONDS);
        System.out.println("leader after close " + (second.hasLeadership() ? "second" : "none"));
        second.close();

        CountDownLatch primed = new CountDownLatch(1);
        CountDownLatch seen = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(two, "/curator/a");
        cache.listenable().addListener(CuratorCacheListener.builder()
            .forChanges((before, after) -> {
                if ("x".equals(new String(after.getData(), StandardCharsets.UTF_8))) {
                    seen.countDown();
                }
            })
            .forInitialized(primed::countDown)
            .build());
        cache.start();
        primed.await(30, TimeUnit.SECONDS);
        one.setData().forPath("/curator/a/b", "x".getBytes(StandardCharsets.UTF_8));
        System.out.println("cache saw the change: " + seen.await(30, TimeUnit.SECONDS));
        cache.close();

        one.close();
        two.close();
    }
}

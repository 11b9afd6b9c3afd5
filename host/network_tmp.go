package host

import "context"

func (n *Node) startCluster(ctx context.Context) error {
	tr := n.cfg.Transport
	if tr == nil {
		return nil
	}
	n.cl.tr = tr
	if inc := tr.Self().Incarnation; inc != 0 {
		n.incarnation = inc
	}
	if err := tr.Start(ctx, handler{n: n}); err != nil {
		return err
	}
	if len(n.cfg.Join) > 0 {
		return tr.Join(ctx, n.cfg.Join)
	}
	return nil
}

func (n *Node) Addr() string {
	if n.cl.tr == nil {
		return ""
	}
	return n.cl.tr.Self().Addr
}
